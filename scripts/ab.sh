#!/usr/bin/env bash
# Two release binaries of Clinker compared on the same machine, runs alternating A, B, A,
# B... so that drift in the machine's load falls on both. Each run is a fresh server with
# the fake driver on SQLite, driven by the same load generator, $BENCH (default
# target/release/clinker-bench: cargo build --release -p clinker-bench).
#   scripts/ab.sh create BIN_A BIN_B [PAIRS] [N]   N creates at c=64 (after 500 to warm up),
#                                                 then the deletes: server CPU and rates
#   scripts/ab.sh list   BIN_A BIN_B [PAIRS]       volumes/detail?limit=1000 p50/p99 with
#                                                 100,000 volumes seeded into the database
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:?create or list}"; A="${2:?binary A}"; B="${3:?binary B}"
PAIRS="${4:-3}"; N="${5:-5000}"
BENCH="${BENCH:-${CARGO_TARGET_DIR:-target}/release/clinker-bench}"
[ -x "$BENCH" ] || { echo "no load generator at $BENCH (cargo build --release -p clinker-bench)" >&2; exit 2; }

one() {
    local bin="$1" dir port pid
    dir="$(mktemp -d)"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    "$bin" serve --config examples/bench-fake.toml --data-dir "$dir" --listen "127.0.0.1:$port" \
        >/dev/null 2>"$dir/server.log" &
    pid=$!
    until curl -s -o /dev/null "http://127.0.0.1:$port/"; do sleep 0.05; done
    local url="http://127.0.0.1:$port" common=(-c 64 --pid "$pid" --no-progress --json "$dir/r.json")
    if [ "$MODE" = create ]; then
        "$BENCH" --url "$url" -n 500 -c 64 --skip-delete --list-repeat 0 --no-progress >/dev/null
        "$BENCH" --url "$url" -n "$N" --list-repeat 0 "${common[@]}" >/dev/null
    else
        "$BENCH" --url "$url" --list-only --preload 100000 --seed-db "$dir/clinker.db" \
            --list-repeat 20 --skip-delete "${common[@]}" >/dev/null
    fi
    kill "$pid"; wait "$pid" 2>/dev/null || true
    python3 - "$MODE" "$dir/r.json" <<'PY'
import json, sys
mode, r = sys.argv[1], json.load(open(sys.argv[2]))
s, l = r["server"], r["latency"]
if mode == "create":
    print(f"creates/s {r['creates_per_second']:.0f}  end to end {r['volumes_per_second']:.0f}/s  "
          f"CPU creating {s['create_cpu_seconds']:.2f} s  deleting {s['delete_cpu_seconds']:.2f} s  "
          f"create p50 {l['create']['p50_ms']:.1f} ms")
else:
    d = l["list_detail_1000"]
    print(f"list_detail_1000 p50 {d['p50_ms']:.2f} ms  p99 {d['p99_ms']:.2f} ms  "
          f"server CPU {s['total_cpu_seconds']:.2f} s")
PY
    rm -rf "$dir"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$PAIRS"); do
    echo "A: $(one "$A")"
    echo "B: $(one "$B")"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
