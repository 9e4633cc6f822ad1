#!/usr/bin/env python3
"""Runs umi-conform --realtime on the release binary for one models folder,
or on a container image as the arena runs it, and holds its report to this
project's bar: 0 warnings, and no failure but the determinism line.

umi-melee 0.1.0's determinism check compares two games with consecutive
handles, but its dummy arena picks each game's fixture stream by
handle % 6, so the two games see different frames and any deterministic bot
whose actions follow the frames fails it. fourstock declares deterministic
truthfully and proves it in crates/fourstock/tests/umi.rs instead.

The real-time line times 300 single-game replies on this machine, and a
VM's stolen time lands in them: a 3 ms busy loop here has been seen at a
p99 of 12 ms. So a run whose only extra failure is "real time", while the
VM lost more than STEAL_RETRY of its CPU time to steal, is run once more,
and both reports are printed with their steal. Any other failure, or a
real-time failure on a quiet machine, fails at once.

    umi_conform.py UMI_CONFORM BINARY MODELS_DIR
    umi_conform.py UMI_CONFORM --image IMAGE
"""
import re
import subprocess
import sys

TIMEOUT_S = 1200
STEAL_RETRY = 0.05


def cpu_times():
    """The machine's (steal, total) jiffies from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return fields[7], sum(fields[:8])


def conform(conform_bin, target):
    """One umi-conform run on target (its --cmd or --image arguments):
    (problems, failed checks, steal share, report)."""
    steal0, total0 = cpu_times()
    run = subprocess.run([conform_bin, *target, "--realtime"], capture_output=True,
                         text=True, timeout=TIMEOUT_S)
    steal1, total1 = cpu_times()
    steal = (steal1 - steal0) / max(1, total1 - total0)
    report = run.stdout
    print(report)
    print(f"(the VM's steal during this run: {steal:.1%})")
    checks = re.findall(r"^(PASS|FAIL|WARN|skip)\s+(\S.*?)\s{2,}", report, re.M)
    failed = [name for mark, name in checks if mark == "FAIL"]
    summary = re.search(r"^(PASSED|FAILED): (\d+) passed, (\d+) failed, (\d+) warnings", report, re.M)
    problems = []
    if not summary:
        problems.append("no summary line")
    elif summary.group(4) != "0":
        problems.append(f"{summary.group(4)} warnings")
    extra = [name for name in failed if name != "determinism"]
    if extra:
        problems.append(f"failed checks: {extra}")
    return problems, extra, steal, summary, run.stderr


def main(conform_bin, binary, models):
    if binary == "--image":
        target, what = ["--image", models], f"image {models}"
    else:
        target, what = ["--cmd", f"{binary} umi --models {models}"], models
    problems, extra, steal, summary, stderr = conform(conform_bin, target)
    if extra == ["real time"] and len(problems) == 1 and steal > STEAL_RETRY:
        print(f"umi-conform on {what}: real time failed with {steal:.1%} steal; once more")
        problems, extra, steal, summary, stderr = conform(conform_bin, target)
    if problems:
        print(f"umi-conform on {what}: " + "; ".join(problems) + "\n" + stderr, file=sys.stderr)
        return 1
    note = " (determinism: the umi-melee 0.1.0 bug, see the README)" if summary.group(3) != "0" else ""
    print(f"umi-conform on {what}: {summary.group(0)}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
