#!/usr/bin/env bash
# The compose ladder (docker/compose.yaml) end to end: a daemon with a token
# in the image, three replay clients standing in for Dolphin. Passes when
# every client finishes its games with one reply per frame and the resets
# the replays call for (fourstock replay --expect-resets exits 0), and the
# daemon's /metrics, scraped through the published port, counts exactly the
# frames the clients reported, with no error sent to anyone.
#
# Usage: .ci/ladder.sh IMAGE COMPOSE_COMMAND...  (e.g. .venv/bin/podman-compose)
set -euo pipefail
image="$1"; shift
compose=("$@" -f docker/compose.yaml)
work="$(mktemp -d)"
export FOURSTOCK_IMAGE="$image" LADDER_TOKEN="$work/token"
export LADDER_PORT=24848 LADDER_METRICS_PORT=29464
head -c 32 /dev/urandom | base64 > "$LADDER_TOKEN"
# The daemon runs as uid 10001 and reads the secret from a bind mount.
chmod 0444 "$LADDER_TOKEN"
down() { timeout 120 "${compose[@]}" down -t 10 >/dev/null 2>&1 || true; rm -rf "$work"; }
trap down EXIT

timeout 300 "${compose[@]}" up -d 2>&1 | grep -v "systemd connection" || true
failed=0
frames=0
for client in client-1 client-2 client-3; do
  name="fourstock-ladder_${client}_1"
  code="$(timeout 600 podman wait "$name")"
  podman logs "$name" > "$work/$client.log" 2>&1 || true
  sed "s/^/$client: /" "$work/$client.log" | cut -c1-220
  if [ "$code" != 0 ]; then
    echo "$client exited with $code"; failed=1
  fi
  n="$(grep -o ': [0-9]* frames, resets' "$work/$client.log" | awk '{s += $2} END {print s + 0}')"
  frames=$((frames + n))
done

metrics="$(timeout 10 python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$LADDER_METRICS_PORT/metrics', timeout=5).read().decode())")"
value() { awk -v s="$1" '$1 == s {print $2}' <<< "$metrics"; }
served="$(value fourstock_frames_total)"
opened="$(value fourstock_sessions_opened_total)"
errors="$( (grep -E '^fourstock_errors_total' <<< "$metrics" || true) | awk '{s += $2} END {print s + 0}')"
echo "ladder: clients reported $frames frames; the daemon served ${served:-none} in ${opened:-no} sessions, ${errors} errors"
if [ "$frames" -eq 0 ] || [ "${served:-x}" != "$frames" ] || [ "${opened:-x}" != 6 ] || [ "$errors" != 0 ]; then
  failed=1
fi
if [ "$failed" != 0 ]; then
  podman logs fourstock-ladder_daemon_1 2>&1 | tail -40
  echo "ladder: FAILED"; exit 1
fi
echo "ladder: passed"
