#!/usr/bin/env bash
# Time from exec to the first answer of `GET /` (300), and the idle RSS after start.
#
#   scripts/startup-time.sh [BINARY] [RUNS]
#
# BINARY defaults to target/release/clinker (CARGO_TARGET_DIR respected), RUNS to 10.
# Each run starts `clinker serve` with the embedded default config (one file node,
# SQLite) in a temporary data dir: the first run on an empty dir (migrations included),
# the others restart on the same dir. Polling uses bash's /dev/tcp, so no process is
# forked between tries. Prints key=value lines:
#   fresh_ms       exec to GET / on an empty data dir
#   warm_ms_median median over the restarts (warm_ms_min, warm_ms_max too)
#   idle_rss_kib   VmRSS 2 s after the first answer, on the last restart
#   idle_hwm_kib   VmHWM at the same moment
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-${CARGO_TARGET_DIR:-target}/release/clinker}"
RUNS="${2:-10}"
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build --release)" >&2; exit 2; }
[ "$RUNS" -ge 2 ] || { echo "RUNS must be at least 2" >&2; exit 2; }

DIR="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT

probe() {
    { exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || return 1
    printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    local line=""
    read -r line <&3 || true
    exec 3>&- 3<&-
    [[ "$line" == *" 300 "* ]]
}

# Starts the server and waits for GET /; sets PID and MS (milliseconds it took).
start_once() {
    local t0 t1
    t0=$(date +%s%N)
    env -u CLINKER_CONFIG -u CLINKER_DATABASE_URL -u CLINKER_LISTEN -u CLINKER_DATA_DIR \
        "$BIN" serve --data-dir "$DIR" --listen "127.0.0.1:$PORT" >/dev/null 2>>"$DIR/server.log" &
    PID=$!
    until probe; do
        kill -0 "$PID" 2>/dev/null || { echo "server exited:" >&2; cat "$DIR/server.log" >&2; exit 1; }
    done
    t1=$(date +%s%N)
    MS=$(( (t1 - t0) / 1000000 ))
}

stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }

start_once
fresh=$MS
stop
warm=()
for i in $(seq 2 "$RUNS"); do
    start_once
    warm+=("$MS")
    if [ "$i" -lt "$RUNS" ]; then stop; fi
done
sleep 2
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$PID/status")
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$PID/status")
stop
sorted=$(printf '%s\n' "${warm[@]}" | sort -n)
n=$(printf '%s\n' "$sorted" | wc -l)
echo "fresh_ms=$fresh"
echo "warm_ms_median=$(printf '%s\n' "$sorted" | sed -n "$(( (n + 1) / 2 ))p")"
echo "warm_ms_min=$(printf '%s\n' "$sorted" | head -n1)"
echo "warm_ms_max=$(printf '%s\n' "$sorted" | tail -n1)"
echo "idle_rss_kib=$rss"
echo "idle_hwm_kib=$hwm"
