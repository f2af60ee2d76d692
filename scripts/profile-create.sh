#!/usr/bin/env bash
# Where a create's time goes, on the release binary with the fake driver and SQLite:
#   1. perf stat: syscalls and context switches per create (N creates at concurrency C);
#   2. perf record --call-graph dwarf over another N creates, attributed by thread, by
#      clinker::db function and by kind of work (scripts/perf_attribution.py).
#   scripts/profile-create.sh [N] [C]        (needs perf: apt-get install linux-perf)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-3000}"
C="${2:-64}"
BIN="${CARGO_TARGET_DIR:-target}/release/clinker"
BENCH="${CARGO_TARGET_DIR:-target}/release/clinker-bench"
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build --release)" >&2; exit 2; }
[ -x "$BENCH" ] || { echo "no load generator at $BENCH (cargo build --release -p clinker-bench)" >&2; exit 2; }
DIR="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$BIN" serve --config examples/bench-fake.toml --data-dir "$DIR" --listen "127.0.0.1:$PORT" \
    >/dev/null 2>"$DIR/server.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"' EXIT
until curl -s -o /dev/null "http://127.0.0.1:$PORT/"; do sleep 0.05; done
load() { "$BENCH" --url "http://127.0.0.1:$PORT" -n "$1" -c "$C" --pid "$PID" \
    --skip-delete --list-repeat 0 --no-progress; }
load 64 >/dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

perf stat -x, -o "$DIR/stat.csv" -p "$PID" -e context-switches,task-clock,syscalls:sys_enter_futex,syscalls:sys_enter_fcntl,syscalls:sys_enter_pwrite64,syscalls:sys_enter_pread64,syscalls:sys_enter_clock_nanosleep,syscalls:sys_enter_fsync,syscalls:sys_enter_write &
STAT=$!
sleep 0.3
load "$N" | grep -E "throughput|^create |server:"
kill -INT "$STAT"; wait "$STAT" || true
echo "per create (whole server process, includes the wait-for-available lists):"
awk -F, -v n="$N" '$1 ~ /^[0-9.]+$/ {printf "  %10.2f  %s\n", $1 / n, $3}' "$DIR/stat.csv"
echo "  (task-clock is in ms)"
ls -l "$DIR" | awk '/clinker.db/ {printf "  %s: %.1f MiB\n", $9, $5 / 1048576}'

perf record -q -F 499 --call-graph dwarf,16384 -p "$PID" -o "$DIR/perf.data" 2>/dev/null &
REC=$!
sleep 0.3
load "$N" >/dev/null
kill -INT "$REC"; wait "$REC" || true
perf script -i "$DIR/perf.data" -F comm,ip,sym 2>/dev/null | python3 scripts/perf_attribution.py
