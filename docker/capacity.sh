#!/usr/bin/env bash
# The capacity table of README's "Operating a ladder": how many paced 60 fps
# sessions the image serves with no late reply and p99 within the budget,
# per CPU limit, for the shipped default model and a Phillip-size one
# (slippi-ai's tx_like 3 x 512 LSTM, 10.5 M parameters, random weights from
# the practical_model example, served from f16 weights).
#
# Each row is one container (`podman run --cpus N --network host`, the daemon
# on the host's loopback) and one `fourstock bench --connect --find-capacity`
# against it, which doubles the session count until a trial breaks and then
# bisects. At --cpus 1 the load generator is pinned to CPU 1 so that the
# daemon's one CPU of quota is its own; at --cpus 2 this 2-core machine has
# no core left for the generator, which shares them.
#
# Usage (from the repository root, after building the release binary, the
# practical_model example and the image):
#   docker/capacity.sh IMAGE [SECONDS_PER_TRIAL] > capacity.log
set -euo pipefail
image="$1"
seconds="${2:-5}"
fourstock="${FOURSTOCK_BIN:-target/release/fourstock}"
practical="${PRACTICAL_MODEL:-target/release/examples/practical_model}"
port=4971
work="$(mktemp -d)"
name="fourstock-capacity-$$"
stop() { timeout 60 podman rm -f -t 5 "$name" >/dev/null 2>&1 || true; }
trap 'stop; rm -rf "$work"' EXIT

"$practical" "$work/phillip" --weights f16 >&2
chmod -R a+rX "$work"

# model label, extra serve arguments, budget in microseconds
rows=(
  "default||4000"
  "phillip-size|--models /phillip|4000"
  "phillip-size|--models /phillip|16000"
)

for cpus in 1 2; do
  for row in "${rows[@]}"; do
    IFS='|' read -r label extra budget <<< "$row"
    # shellcheck disable=SC2086 # $extra is words by design
    podman run -d --rm --name "$name" --cpus "$cpus" --network host \
      -e FOURSTOCK_METRICS=127.0.0.1:9471 -v "$work/phillip:/phillip:ro" "$image" \
      serve --listen "127.0.0.1:$port" --budget-us "$budget" $extra >/dev/null
    # Ready when the port accepts; bounded, the models load in under a second.
    for _ in $(seq 100); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
      sleep 0.1
    done
    pid="$(podman inspect --format '{{.State.Pid}}' "$name")"
    pin=()
    [ "$cpus" = 1 ] && pin=(--cpus 1)
    echo "== --cpus $cpus, $label, budget $budget us" >&2
    result="$(timeout 900 "$fourstock" bench --connect "127.0.0.1:$port" --daemon-pid "$pid" \
      "${pin[@]}" --find-capacity --sessions 4 --seconds "$seconds" \
      --budget-us "$budget" --json)"
    CPUS="$cpus" LABEL="$label" python3 -c '
import json, os, sys
r = json.load(sys.stdin)
held = [t for t in r["trials"] if t["sessions"] == r["capacity"]]
row = ["--cpus " + os.environ["CPUS"], os.environ["LABEL"], "%g ms" % (r["budget_us"] / 1000),
       str(r["capacity"])]
if held:
    t = held[0]
    row += ["%.2f ms" % (t["round_trip_us_p99"] / 1000), "%.0f us" % t["daemon_cpu_us_per_frame"]]
else:
    row += ["-", "-"]
print("| " + " | ".join(row) + " |")' <<< "$result"
    stop
  done
done
