#!/usr/bin/env python3
"""Runs umi-conform --realtime on the release binary for one models folder
and holds its report to this project's bar: 0 warnings, and no failure but
the determinism line.

umi-melee 0.1.0's determinism check compares two games with consecutive
handles, but its dummy arena picks each game's fixture stream by
handle % 6, so the two games see different frames and any deterministic bot
whose actions follow the frames fails it. fourstock declares deterministic
truthfully and proves it in crates/fourstock/tests/umi.rs instead.

    umi_conform.py UMI_CONFORM BINARY MODELS_DIR
"""
import re
import subprocess
import sys

TIMEOUT_S = 1200


def main(conform, binary, models):
    cmd = f"{binary} umi --models {models}"
    run = subprocess.run([conform, "--cmd", cmd, "--realtime"], capture_output=True, text=True,
                         timeout=TIMEOUT_S)
    report = run.stdout
    print(report)
    checks = re.findall(r"^(PASS|FAIL|WARN|skip)\s+(\S.*?)\s{2,}", report, re.M)
    failed = [name for mark, name in checks if mark == "FAIL"]
    summary = re.search(r"^(PASSED|FAILED): (\d+) passed, (\d+) failed, (\d+) warnings", report, re.M)
    problems = []
    if not summary:
        problems.append("no summary line")
    elif summary.group(4) != "0":
        problems.append(f"{summary.group(4)} warnings")
    if any(name != "determinism" for name in failed):
        problems.append(f"failed checks: {failed}")
    if problems:
        print(f"umi-conform on {models}: " + "; ".join(problems) + "\n" + run.stderr, file=sys.stderr)
        return 1
    note = " (determinism: the umi-melee 0.1.0 bug, see the README)" if failed else ""
    print(f"umi-conform on {models}: {summary.group(0)}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
