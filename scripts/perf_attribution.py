#!/usr/bin/env python3
"""Reads `perf script -F comm,ip,sym` (call graphs) on stdin and prints where the samples
fall: by thread, by clinker::db function (the outermost one on the stack), and by kind
of work (SQLite, kernel scheduling, malloc...). Used by scripts/profile-create.sh."""

import collections
import re
import sys

samples, cur = [], None
for line in sys.stdin:
    if not line.strip():
        if cur:
            samples.append(cur)
        cur = None
    elif not line[0].isspace():
        cur = {"comm": line.split()[0], "frames": []}
    elif cur is not None:
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            # Generic parameters name other functions; keep the function's own path.
            cur["frames"].append(re.sub(r"<.*>", "", parts[1]))
if cur:
    samples.append(cur)
total = len(samples) or 1

def show(title, counter):
    print(f"\n{title}")
    for name, n in counter.most_common(15):
        print(f"  {100 * n / total:5.1f}%  {name}")

threads = collections.Counter(s["comm"] for s in samples)
db_fns, kinds = collections.Counter(), collections.Counter()
KINDS = [
    ("kernel: futex/scheduling", ("futex", "schedule", "finish_task_switch")),
    ("SQLite: prepare", ("sqlite3_prepare", "sqlite3LockAndPrepare", "sqlite3RunParser")),
    ("SQLite: BEGIN/COMMIT/SELECT 1 (sqlite3_exec)", ("sqlite3_exec",)),
    ("SQLite: step", ("sqlite3_step",)),
    ("malloc/free", ("malloc", "free", "realloc")),
    ("serde_json", ("serde_json",)),
]
for s in samples:
    fn = None
    for f in reversed(s["frames"]):
        m = re.search(r"clinker::db::(\w+)::(\w+)", f)
        if m and m.group(1) not in ("error", "rows", "schema"):
            fn = f"clinker::db::{m.group(1)}::{m.group(2)}"
            break
    if fn is None and any("r2d2" in f for f in s["frames"]):
        fn = "r2d2 (pool check-out, SELECT 1)"
    if fn is None and s["comm"] == "tokio-rt-worker":
        parked = any("park" in f.lower() or "condvar" in f.lower() for f in s["frames"])
        fn = "blocking pool: " + (
            "waiting for / handing over work" if parked else "DB closure inlined (e.g. volumes::insert)"
        )
    db_fns[fn or f"(not the blocking pool: thread {s['comm']})"] += 1
    kind = next(
        (k for f in s["frames"] for k, pats in KINDS if any(p in f for p in pats)), "other"
    )
    kinds[kind] += 1
print(f"{len(samples)} samples")
show("by thread (tokio-rt-worker = the blocking pool that runs every DB call; clinker = the main arbiter: ApiActor, SchedulerActor, JournalActor; actix-rt|system = HTTP workers and the node's arbiter)", threads)
show("by outermost clinker::db function", db_fns)
show("by kind of work (innermost match)", kinds)
