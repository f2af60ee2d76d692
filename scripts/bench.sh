#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md on a release build and rewrites its figures
# section from what the commands printed (never by hand):
#   1. clinker-bench, fake driver, SQLite:  -n $FAKE_N (20000) -c $C (64)
#   2. clinker-bench, file driver, SQLite:  -n $FILE_N (2000)  -c $C
#   3. clinker-bench --list-only --preload $PRELOAD (100000) --seed-db, fake driver
#   4. criterion: scheduler, flow, db_create
#   5. scripts/startup-time.sh: exec to GET /, idle RSS
#   6. runs 1-3 again on PostgreSQL (a fresh database each on $BENCH_PG, default
#      postgres://postgres@127.0.0.1:5432; SKIP_PG=1 to leave them out)
# Results (JSON, logs, commands) go to $BENCH_OUT (default target/bench-results).
# Takes about 10 minutes on 2 cores after the release build. Quick look:
#   FAKE_N=2000 FILE_N=500 PRELOAD=5000 SKIP_CRITERION=1 scripts/bench.sh --no-write
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=1
[ "${1:-}" = "--no-write" ] && WRITE=0
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-results}"
FAKE_N="${FAKE_N:-20000}"
FILE_N="${FILE_N:-2000}"
PRELOAD="${PRELOAD:-100000}"
C="${C:-64}"
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.log "$OUT/commands.txt" "$OUT/startup.txt"

echo "== cargo build --release -p clinker -p clinker-bench"
cargo build --release -p clinker -p clinker-bench
BIN="$CARGO_TARGET_DIR/release/clinker"
BENCH="$CARGO_TARGET_DIR/release/clinker-bench"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

PID=""
DATA=""
DBURL=""
PG_BASE="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
PG_DB=""
ON_PG=""
# drop_pg: removes the PostgreSQL database of the last run, if any.
drop_pg() {
    if [ -n "$PG_DB" ]; then
        psql -q "$PG_BASE/postgres" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null || true
    fi
    PG_DB=""
    DBURL=""
}
stop_server() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    PID=""
    [ -n "$DATA" ] && rm -rf "$DATA"
    DATA=""
}
trap 'stop_server; drop_pg' EXIT

# start_server CONFIG NAME: a fresh data dir on a free port; sets PID and URL.
start_server() {
    DATA="$(mktemp -d)"
    local port
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    URL="http://127.0.0.1:$port"
    env -u CLINKER_CONFIG -u CLINKER_DATABASE_URL -u CLINKER_LISTEN -u CLINKER_DATA_DIR \
        "$BIN" serve --config "$1" --data-dir "$DATA" --listen "127.0.0.1:$port" \
        ${DBURL:+--database-url "$DBURL"} \
        2>"$OUT/server-$2.log" &
    PID=$!
    for _ in $(seq 1 300); do
        curl -s -o /dev/null "$URL/" && return 0
        sleep 0.05
    done
    echo "server did not start:" >&2
    cat "$OUT/server-$2.log" >&2
    exit 1
}

# bench NAME CONFIG ARGS...: one load run against a fresh server.
bench() {
    local name="$1" config="$2"
    shift 2
    if [ -n "${ON_PG:-}" ]; then
        PG_DB="clinker_bench_$$_$RANDOM"
        psql -q "$PG_BASE/postgres" -c "CREATE DATABASE $PG_DB" >/dev/null
        DBURL="$PG_BASE/$PG_DB"
    fi
    start_server "$config" "$name"
    # @DB@ stands for the fresh server's database (its SQLite file, or the PG URL).
    local args=("${@/#@DB@/${DBURL:-$DATA/clinker.db}}")
    local cmd=(clinker-bench --url "$URL" "${args[@]}" --pid "$PID" --json "$OUT/$name.json")
    echo "== ${cmd[*]}"
    echo "$name: clinker serve --config $config --data-dir $DATA --listen ${URL#http://}${DBURL:+ --database-url $DBURL}; ${cmd[*]}" >>"$OUT/commands.txt"
    "$BENCH" --url "$URL" "${args[@]}" --pid "$PID" --json "$OUT/$name.json" --no-progress \
        | tee "$OUT/$name.txt" || echo "(clinker-bench exited non-zero: see $OUT/$name.txt)"
    stop_server
    drop_pg
}

# The three load runs; $1 is appended to each run's name ("" for SQLite, "-pg").
load_runs() {
    bench "fake$1" examples/bench-fake.toml -n "$FAKE_N" -c "$C"
    bench "file$1" examples/bench-file.toml -n "$FILE_N" -c "$C"
    # 100,000 volumes through the API would take longer than the rest together at the
    # measured create rate, so they are written into the database (PRELOAD_VIA=api to not).
    if [ "${PRELOAD_VIA:-db}" = api ]; then
        bench "list$1" examples/bench-fake.toml --list-only --preload "$PRELOAD" -c "$C" --list-repeat 20
    else
        bench "list$1" examples/bench-fake.toml --list-only --preload "$PRELOAD" --seed-db @DB@ -c "$C" --list-repeat 20
    fi
}
load_runs ""

# The same on PostgreSQL: every server gets a database of its own, dropped afterwards.
if [ -z "${SKIP_PG:-}" ]; then
    ON_PG=1
    load_runs "-pg"
    ON_PG=""
fi

if [ -z "${SKIP_CRITERION:-}" ]; then
    for b in scheduler flow db_create; do
        echo "== cargo bench --bench $b"
        echo "criterion: cargo bench --bench $b" >>"$OUT/commands.txt"
        cargo bench --bench "$b" 2>&1 | tee "$OUT/criterion-$b.log"
    done
fi

echo "== scripts/startup-time.sh"
echo "startup: scripts/startup-time.sh $BIN 10" >>"$OUT/commands.txt"
scripts/startup-time.sh "$BIN" 10 | tee "$OUT/startup.txt"

{
    echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
    echo "nproc=$(nproc)"
    echo "mem_kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
    echo "cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "kernel=$(uname -r)"
    echo "loadavg_before=$LOAD_BEFORE"
    echo "loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "rustc=$(rustc --version)"
    echo "commit=$(git rev-parse --short HEAD)$(git diff --quiet || echo '-dirty')"
} >"$OUT/machine.txt"

args=("$OUT" "$CARGO_TARGET_DIR/criterion")
[ "$WRITE" = 1 ] && args+=(--write BENCHMARKS.md)
python3 scripts/bench_figures.py "${args[@]}"
