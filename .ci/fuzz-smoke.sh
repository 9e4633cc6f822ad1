#!/usr/bin/env bash
# A short AFL++ round over every fuzz target: installs cargo-afl if it is
# missing (AFL++ is built by its install), builds the binaries in fuzz/,
# then runs each target from its checked-in seeds for FUZZ_SECONDS
# (default 25). Fails if any target crashes; hangs are reported, not
# failed on, as a loaded CI machine makes slow runs look like hangs.
# The long documented runs are in RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-25}"
targets="${FUZZ_TARGETS:-proto umi pickle model slp}"

if ! cargo afl --version >/dev/null 2>&1; then
  cargo install --locked cargo-afl
fi
# Builds AFL++ for this rustc once; it refuses (and we go on) when built.
cargo afl config --build >/dev/null 2>&1 || true
(cd fuzz && cargo afl build --release --locked)

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# No CPU frequency scaling check (a VM has none to set), no UI, and no
# core binding: other work shares the cores.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
  AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_QUIET=1

failed=0
for t in $targets; do
  timeout $((seconds + 120)) cargo afl fuzz -i "fuzz/corpus/$t" -o "$out/$t" \
    -V "$seconds" -- "fuzz/target/release/$t" >"$out/$t.log" 2>&1 || {
    echo "fuzz $t: afl-fuzz failed"; tail -20 "$out/$t.log"; failed=1; continue; }
  stats="$out/$t/default/fuzzer_stats"
  field() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
  crashes="$(find "$out/$t/default/crashes" -type f -name 'id:*' | wc -l)"
  hangs="$(find "$out/$t/default/hangs" -type f -name 'id:*' | wc -l)"
  echo "fuzz $t: $(field execs_done) execs, $(field execs_per_sec)/s," \
    "corpus $(field corpus_count), bitmap $(field bitmap_cvg), crashes $crashes, hangs $hangs"
  if [ "$crashes" -gt 0 ]; then
    failed=1
    for f in "$out/$t/default/crashes"/id:*; do
      echo "  crash input $f:"; xxd "$f" | head -8
    done
  fi
done
exit "$failed"
