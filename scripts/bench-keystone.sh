#!/usr/bin/env bash
# The create rate with a real Keystone token against noauth's (issue 15, item 5): a cached
# token must cost no Keystone round trip. Starts Keystone 30 (.venv-keystone, as
# scripts/test installs it) on SQLite with uwsgi, a service user and a member, then runs
# `clinker-bench` against the release binary twice per mode, alternating
# noauth / keystone on one fake node, and prints each run's creates per second.
#
#   cargo build --release -p clinker -p clinker-bench
#   (BIN= and BENCH= name other builds of clinker and clinker-bench)
#   scripts/bench-keystone.sh [N] [C]          # default 5000 volumes at concurrency 32
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
c=${2:-32}
bin=${BIN:-target/release/clinker}
bench=${BENCH:-target/release/clinker-bench}
work=$(mktemp -d /tmp/clinker-bench-keystone.XXXXXX)
admin_pw=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
cinder_pw=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
user_pw=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

kport=$(free_port)
kurl=http://127.0.0.1:$kport
cat >"$work/keystone.conf" <<EOF
[database]
connection = sqlite:///$work/keystone.db
[token]
provider = fernet
[fernet_tokens]
key_repository = $work/fernet
[fernet_receipts]
key_repository = $work/fernet
[credential]
key_repository = $work/credential
EOF
km() { .venv-keystone/bin/keystone-manage --config-file "$work/keystone.conf" "$@" >>"$work/manage.log" 2>&1; }
km db_sync
km fernet_setup --keystone-user root --keystone-group root
km credential_setup --keystone-user root --keystone-group root
km bootstrap --bootstrap-password "$admin_pw" --bootstrap-region-id RegionOne \
    --bootstrap-public-url "$kurl/v3"
OS_KEYSTONE_CONFIG_FILES=$work/keystone.conf .venv-keystone/bin/uwsgi \
    --http-socket "127.0.0.1:$kport" --module keystone.wsgi.api:application --master \
    --processes 1 --threads 1 --die-on-term --need-app --lazy-apps --buffer-size 65535 \
    --add-header "Connection: close" >"$work/uwsgi.log" 2>&1 &
pids+=($!)
until curl -sf -o /dev/null "$kurl/v3"; do sleep 0.2; done

os() {
    env OS_AUTH_URL="$kurl/v3" OS_IDENTITY_API_VERSION=3 OS_USER_DOMAIN_NAME=Default \
        OS_PROJECT_DOMAIN_NAME=Default "$@"
}
admin() { os OS_USERNAME=admin OS_PASSWORD="$admin_pw" OS_PROJECT_NAME=admin .venv/bin/openstack "$@" >/dev/null; }
admin project create service
admin user create --password "$cinder_pw" cinder
admin role add --user cinder --project service admin
admin role add --user cinder --project service service
project=$(os OS_USERNAME=admin OS_PASSWORD="$admin_pw" OS_PROJECT_NAME=admin \
    .venv/bin/openstack project create -f value -c id bench)
admin user create --password "$user_pw" bencher
admin role add --user bencher --project bench member
token=$(os OS_USERNAME=bencher OS_PASSWORD="$user_pw" OS_PROJECT_NAME=bench \
    .venv/bin/openstack token issue -f value -c id)

serve() { # mode, port -> starts clinker in the background
    local mode=$1 port=$2
    sed "s|^listen = .*|listen = \"127.0.0.1:$port\"|" examples/bench-fake.toml >"$work/$mode.toml"
    if [ "$mode" = keystone ]; then
        cat >>"$work/$mode.toml" <<EOF
auth_strategy = "keystone"
[keystone_authtoken]
auth_url = "$kurl"
username = "cinder"
EOF
        # Top-level keys must come before the tables: move them up.
        python3 - "$work/$mode.toml" <<'PY'
import sys
p = sys.argv[1]
lines = open(p).read().splitlines()
i = lines.index('auth_strategy = "keystone"')
top, rest = lines[i:i + 1], lines[:i] + lines[i + 1:]
open(p, "w").write("\n".join(top + rest) + "\n")
PY
    fi
    rm -rf "$work/data-$mode"
    CLINKER_KEYSTONE_PASSWORD=$cinder_pw RUST_LOG=warn "$bin" serve \
        --config "$work/$mode.toml" --data-dir "$work/data-$mode" 2>"$work/$mode.log" &
    server=$!
    pids+=("$server")
    until curl -s -o /dev/null "http://127.0.0.1:$port/"; do sleep 0.1; done
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "${ROUNDS:-2}"); do
    for mode in noauth keystone; do
        port=$(free_port)
        serve "$mode" "$port"
        if [ "$mode" = keystone ]; then
            CLINKER_BENCH_TOKEN=$token "$bench" --url "http://127.0.0.1:$port" \
                --project "$project" -n "$n" -c "$c" --pid "$server" --no-progress --json "$work/$mode-$round.json" >/dev/null
        else
            "$bench" --url "http://127.0.0.1:$port" -n "$n" -c "$c" --pid "$server" \
                --no-progress --json "$work/$mode-$round.json" >/dev/null
        fi
        kill "$server"; wait "$server" 2>/dev/null || true
        python3 - "$work/$mode-$round.json" "$mode" "$round" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
keys = ["created", "create_errors", "creates_per_second", "volumes_per_second"]
c = r["latency"]["create"]
lat = {k: round(c[k], 2) for k in ("p50_ms", "p99_ms", "max_ms")}
lat["server_cpu_ms_per_create"] = round(1000 * r["server"]["create_cpu_seconds"] / max(r["created"], 1), 3)
print(sys.argv[2], "round", sys.argv[3], {k: r[k] for k in keys}, lat)
PY
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "reports in $work"
