#!/usr/bin/env bash
# Creates on PostgreSQL (issue 16, item 7), fake driver, with `clinker-bench`:
#   scripts/bench-pg.sh single  [N] [C]   one `clinker serve` with the fake node in its
#                                         own config (examples/bench-fake.toml)
#   scripts/bench-pg.sh cluster [N] [C]   3 controllers (`nodes = []`) and 2 storage agents
#                                         (`clinker node`, one fake node each); the load
#                                         generator spreads creates and deletes over the 3
#                                         controllers round-robin (--also-url)
# N creates at concurrency C (default 20000, 64) after 500 to warm up, each run on a fresh
# database on $BENCH_PG (default postgres://postgres@127.0.0.1:5432), dropped afterwards.
# Besides clinker-bench's report it prints what PostgreSQL did per volume during the
# measured run: transactions committed (pg_stat_database) and WAL flushes (pg_stat_wal),
# which is where a create's time goes on a server whose fsync takes milliseconds.
#   cargo build --release -p clinker -p clinker-bench
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:?single or cluster}"
N="${2:-20000}"
C="${3:-64}"
T="${CARGO_TARGET_DIR:-target}"
BIN="${BIN:-$T/release/clinker}"
BENCH="${BENCH:-$T/release/clinker-bench}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
[ -x "$BIN" ] && [ -x "$BENCH" ] || { echo "build first: cargo build --release -p clinker -p clinker-bench" >&2; exit 2; }

WORK="$(mktemp -d /tmp/clinker-bench-pg.XXXXXX)"
DB="clinker_bench_pg_$$"
URL="$PG/$DB"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
psql -q "$PG/postgres" -c "CREATE DATABASE $DB" >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start NAME SUBCOMMAND CONFIG: one process with its own data dir and port; sets PORT.
start() {
    local name=$1 sub=$2 config=$3
    PORT=$(free_port)
    env -u CLINKER_CONFIG -u CLINKER_DATABASE_URL -u CLINKER_LISTEN -u CLINKER_DATA_DIR \
        "$BIN" "$sub" --config "$config" --data-dir "$WORK/$name" --listen "127.0.0.1:$PORT" \
        --database-url "$URL" >/dev/null 2>"$WORK/$name.log" &
    pids+=($!)
    local path=/
    [ "$sub" = node ] && path=/healthz
    for _ in $(seq 1 600); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT$path" && return 0
        sleep 0.05
    done
    echo "$name did not start:" >&2
    cat "$WORK/$name.log" >&2
    exit 1
}

# POOL=N: database_pool_size of every process (default: the config's default, 8).
pool_line=""
[ -n "${POOL:-}" ] && pool_line="database_pool_size = $POOL"
urls=()
pid_arg=()
case "$MODE" in
single)
    { echo "$pool_line"; cat examples/bench-fake.toml; } >"$WORK/single.toml"
    start controller serve "$WORK/single.toml"
    urls=("http://127.0.0.1:$PORT")
    pid_arg=(--pid "${pids[0]}")
    ;;
cluster)
    # Lease figures as examples/cluster; no storage on the controllers.
    printf '%s\nnodes = []\n[quota]\nvolumes = -1\ngigabytes = -1\nper_volume_gigabytes = -1\n[cluster]\nlease_seconds = 10\nnode_down_after_seconds = 30\n' \
        "$pool_line" >"$WORK/controller.toml"
    for node in a b; do
        { echo "$pool_line"; sed -e "s/^name = .*/name = \"bench-$node\"/" -e '/^listen\|^data_dir/d' \
            examples/bench-fake.toml; } >"$WORK/node-$node.toml"
        printf '[cluster]\nlease_seconds = 10\nnode_down_after_seconds = 30\n' >>"$WORK/node-$node.toml"
        start "node-$node" node "$WORK/node-$node.toml"
    done
    for i in 1 2 3; do
        start "controller-$i" serve "$WORK/controller.toml"
        urls+=("http://127.0.0.1:$PORT")
    done
    # Controllers learn the agents' pools from the database; wait until each sees both.
    for u in "${urls[@]}"; do
        for _ in $(seq 1 200); do
            n=$(curl -s -H "X-Auth-Token: admin:00" "$u/v3/00/scheduler-stats/get_pools" |
                python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("pools", [])))' 2>/dev/null || echo 0)
            [ "$n" -ge 2 ] && break
            sleep 0.1
        done
    done
    ;;
*) echo "single or cluster" >&2; exit 2 ;;
esac

also=()
for u in "${urls[@]:1}"; do also+=(--also-url "$u"); done
"$BENCH" --url "${urls[0]}" "${also[@]}" -n 500 -c "$C" --list-repeat 0 --no-progress >/dev/null

stats() {
    psql -Atq "$URL" -c "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
                                (SELECT wal_sync FROM pg_stat_wal), (SELECT wal_records FROM pg_stat_wal)"
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
before=$(stats)
"$BENCH" --url "${urls[0]}" "${also[@]}" -n "$N" -c "$C" --list-repeat 0 --skip-delete --no-progress \
    "${pid_arg[@]}" --json "$WORK/create.json" | grep -Ev '^\s*$' || true
after=$(stats)
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$WORK/create.json" "$before" "$after" "$N" "$MODE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
b = [int(x) for x in sys.argv[2].split("|")]
a = [int(x) for x in sys.argv[3].split("|")]
n = int(sys.argv[4])
c = r["latency"]["create"]
print(f"{sys.argv[5]}: {r['created']} created, {r['create_errors']} errors; "
      f"{r['creates_per_second']:.0f} creates/s, {r['volumes_per_second']:.0f} available/s; "
      f"create p50 {c['p50_ms']:.1f} ms p99 {c['p99_ms']:.1f} ms")
print(f"per volume (whole database, all processes): {(a[0]-b[0])/n:.1f} commits, "
      f"{(a[1]-b[1])/n:.2f} WAL flushes, {(a[2]-b[2])/n:.0f} WAL records")
PY
