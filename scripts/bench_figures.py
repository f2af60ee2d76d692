#!/usr/bin/env python3
"""Turns the results of scripts/bench.sh into the figures section of BENCHMARKS.md.

    bench_figures.py RESULTS_DIR CRITERION_DIR [--write BENCHMARKS.md]

Prints the section; with --write, replaces what lies between the markers
<!-- figures:start --> and <!-- figures:end --> in that file. Every number comes from
the JSON and text files the commands wrote; a missing file shows as "not run".
"""

import json
import os
import sys

START = "<!-- figures:start -->"
END = "<!-- figures:end -->"


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_kv(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    out[k] = v
    except OSError:
        pass
    return out


def criterion(crit_dir, bench_id):
    # A benchmark in a group is stored as group/id; one made by bench_function with a
    # slash in its name as group_id.
    est = load_json(os.path.join(crit_dir, bench_id, "new", "estimates.json")) or load_json(
        os.path.join(crit_dir, bench_id.replace("/", "_"), "new", "estimates.json")
    )
    if not est:
        return None
    return {k: est[k]["point_estimate"] for k in ("mean", "median") if k in est}


def fmt_ns(ns):
    if ns is None:
        return "not run"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def lat(report, call, key):
    try:
        return report["latency"][call][key]
    except (KeyError, TypeError):
        return None


def verdict(value, ok):
    if value is None:
        return "not run"
    return "**met**" if ok(value) else "**missed**"


def run_table(name, r):
    if not r:
        return [f"**{name}**: not run.", ""]
    lines = [
        f"**{name}**: {r['created']} created ({r['create_errors']} errors), "
        f"{r['available']} available, {r['errored']} error, {r['deleted']} deleted "
        f"({r['delete_errors']} errors, {r['remaining_after_delete']} left)"
        + (", **timed out**" if r["timed_out"] else "")
        + (f", preloaded {r['preloaded']}" if r.get("preloaded") else "")
        + f"; {r['listed']} listed.",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    if r["n"]:
        lines += [
            f"| volumes/s end to end (first create sent to last `available` seen) | {r['volumes_per_second']:.0f} ({r['end_to_end_seconds']:.2f} s) |",
            f"| creates answered/s | {r['creates_per_second']:.0f} ({r['create_phase_seconds']:.2f} s) |",
        ]
    if r["deleted"]:
        lines.append(
            f"| volumes gone/s (first delete sent to list empty) | {r['deletes_per_second']:.0f} ({r['delete_end_to_end_seconds']:.2f} s) |"
        )
    s = r.get("server")
    if s:
        if r["n"]:
            lines.append(
                f"| server CPU per volume created | {s['create_cpu_seconds_per_volume'] * 1000:.3f} ms ({s['create_cpu_seconds']:.2f} s) |"
            )
        lines += [
            f"| server CPU, deletes / whole run | {s['delete_cpu_seconds']:.2f} s / {s['total_cpu_seconds']:.2f} s |",
            f"| server RSS at start / peak (VmHWM) | {s['start_rss_mib']:.1f} MiB / {s['peak_rss_mib']:.1f} MiB |",
        ]
    lines += [f"| load generator CPU | {r['client_cpu_seconds']:.2f} s |", ""]
    lines += [
        "| call (ms) | count | p50 | p95 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for call, l in sorted(r["latency"].items()):
        lines.append(
            f"| `{call}` | {l['count']} | {l['p50_ms']:.2f} | {l['p95_ms']:.2f} | {l['p99_ms']:.2f} | {l['max_ms']:.2f} |"
        )
    for e in r.get("error_samples", []):
        lines.append(f"\nerror: `{e}`")
    lines.append("")
    return lines


def main():
    args = sys.argv[1:]
    write = None
    if "--write" in args:
        i = args.index("--write")
        write = args[i + 1]
        del args[i : i + 2]
    out, crit = args[0], args[1]
    fake = load_json(os.path.join(out, "fake.json"))
    file_ = load_json(os.path.join(out, "file.json"))
    lst = load_json(os.path.join(out, "list.json"))
    fake_pg = load_json(os.path.join(out, "fake-pg.json"))
    file_pg = load_json(os.path.join(out, "file-pg.json"))
    lst_pg = load_json(os.path.join(out, "list-pg.json"))
    start = load_kv(os.path.join(out, "startup.txt"))
    mach = load_kv(os.path.join(out, "machine.txt"))
    sched = {n: criterion(crit, f"schedule/{n}") for n in (10, 1000, 10000)}
    flow = criterion(crit, "flow/5_noop_tasks")
    db_api = criterion(crit, "db/create_api")
    db_full = criterion(crit, "db/create_full")

    fake_rate = fake["volumes_per_second"] if fake and fake["n"] else None
    file_rate = file_["volumes_per_second"] if file_ and file_["n"] else None
    p99 = lat(fake, "create", "p99_ms")
    list_p50 = lat(lst, "list_detail_1000", "p50_ms")
    sched_10k = sched[10000]["mean"] / 1e6 if sched[10000] else None
    rss = int(start["idle_rss_kib"]) / 1024 if "idle_rss_kib" in start else None
    warm = int(start["warm_ms_median"]) if "warm_ms_median" in start else None
    listed = lst["listed"] if lst else None

    def opt(v, f):
        return "not run" if v is None else f.format(v)

    mem_gib = int(mach.get("mem_kib", "0")) / 1024 / 1024
    lines = [
        START,
        "",
        f"Written by `scripts/bench.sh` on {mach.get('date', '?')}: {mach.get('cpu', '?')}, "
        f"{mach.get('nproc', '?')} cores (`nproc`), {mem_gib:.1f} GiB (MemTotal), "
        f"Linux {mach.get('kernel', '?')}, {mach.get('rustc', '?')}, commit {mach.get('commit', '?')}. "
        "Release build. Database: SQLite (WAL, synchronous=NORMAL), pool of 8, unless marked PostgreSQL. "
        "The server logs at the default level (`info`) to a file. "
        "The load generator runs on the same cores as the server. "
        f"Load average (1, 5, 15 min) before the first run: {mach.get('loadavg_before', '?')}, at the end: "
        f"{mach.get('loadavg_after', '?')} (other work on the machine slows every figure).",
        "",
        "### Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
        f"| fake driver ≥ 5,000 creates/s end to end (c=64, n=20,000) | {opt(fake_rate, '{:.0f}/s')} | {verdict(fake_rate, lambda v: v >= 5000)} |",
        f"| file driver ≥ 1,000 creates/s end to end (c=64, n=2,000) | {opt(file_rate, '{:.0f}/s')} | {verdict(file_rate, lambda v: v >= 1000)} |",
        f"| create API latency p99 < 5 ms (fake, c=64) | {opt(p99, '{:.2f} ms')} | {verdict(p99, lambda v: v < 5)} |",
        f"| `volumes/detail?limit=1000` p50 < 20 ms with 100,000 volumes in the project | {opt(list_p50, '{:.2f} ms')} ({opt(listed, '{} volumes listed')}) | {verdict(list_p50, lambda v: v < 20 and (listed or 0) >= 100000)} |",
        f"| scheduler decision over 10,000 pools < 1 ms | {opt(sched_10k, '{:.3f} ms')} | {verdict(sched_10k, lambda v: v < 1)} |",
        f"| idle RSS after start ≤ 30 MiB | {opt(rss, '{:.1f} MiB')} | {verdict(rss, lambda v: v <= 30)} |",
        f"| exec to answering `GET /` < 100 ms (warm, median of 9) | {opt(warm, '{} ms')} (first start on an empty dir: {start.get('fresh_ms', '?')} ms) | {verdict(warm, lambda v: v < 100)} |",
        "",
        "### SQLite and PostgreSQL side by side",
        "",
        "The same runs with `--database-url postgres://...` (a fresh database per run on the "
        "local PostgreSQL server, default settings, pool of 8).",
        "",
        "| figure | SQLite | PostgreSQL |",
        "|---|---:|---:|",
    ]
    def both(label, get, f):
        a, b = get(fake, file_, lst), get(fake_pg, file_pg, lst_pg)
        return f"| {label} | {opt(a, f)} | {opt(b, f)} |"

    def rate(r):
        return r["volumes_per_second"] if r and r["n"] else None

    def cpu(r):
        s = (r or {}).get("server")
        return s["create_cpu_seconds_per_volume"] * 1000 if s and r["n"] else None

    lines += [
        both("fake driver, creates/s end to end", lambda f, _, __: rate(f), "{:.0f}/s"),
        both("fake driver, create p99", lambda f, _, __: lat(f, "create", "p99_ms"), "{:.2f} ms"),
        both("fake driver, server CPU per volume", lambda f, _, __: cpu(f), "{:.3f} ms"),
        both("file driver, creates/s end to end", lambda _, f, __: rate(f), "{:.0f}/s"),
        both("`volumes/detail?limit=1000` p50 (100,000 volumes)", lambda _, __, l: lat(l, "list_detail_1000", "p50_ms"), "{:.2f} ms"),
        "",
        "### Load runs (`clinker-bench`)",
        "",
    ]
    lines += run_table(f"Fake driver, n={fake['n'] if fake else '?'}, c={fake['concurrency'] if fake else '?'}", fake)
    lines += run_table(f"File driver, n={file_['n'] if file_ else '?'}, c={file_['concurrency'] if file_ else '?'}", file_)
    lines += run_table(
        f"Lists with {lst['preloaded'] if lst else '?'} volumes in the project (fake driver; preloaded through the {lst.get('preloaded_through', '?') if lst else '?'} in {lst.get('preload_seconds', 0) if lst else 0:.1f} s; c={lst['concurrency'] if lst else '?'})",
        lst,
    )
    lines += run_table(f"PostgreSQL: fake driver, n={fake_pg['n'] if fake_pg else '?'}", fake_pg)
    lines += run_table(f"PostgreSQL: file driver, n={file_pg['n'] if file_pg else '?'}", file_pg)
    lines += run_table(f"PostgreSQL: lists with {lst_pg['preloaded'] if lst_pg else '?'} volumes", lst_pg)
    lines += [
        "### Micro-benchmarks (criterion, mean of the estimate)",
        "",
        "| benchmark | mean | median |",
        "|---|---:|---:|",
    ]
    for name, est in (
        [(f"`schedule/{n}` (filters + weigher, {n} pools)", sched[n]) for n in (10, 1000, 10000)]
        + [
            ("`flow/5_noop_tasks` (flow engine overhead)", flow),
            ("`db/create_api` (DB calls the API flow waits for)", db_api),
            ("`db/create_full` (plus scheduler and node updates)", db_full),
        ]
    ):
        lines.append(
            f"| {name} | {fmt_ns(est['mean'] if est else None)} | {fmt_ns(est['median'] if est else None)} |"
        )
    lines += [
        "",
        "### Start-up (`scripts/startup-time.sh`)",
        "",
        f"exec to `GET /`: first start on an empty data dir {start.get('fresh_ms', '?')} ms (migrations included); "
        f"restarts: median {start.get('warm_ms_median', '?')} ms, min {start.get('warm_ms_min', '?')}, "
        f"max {start.get('warm_ms_max', '?')}. Idle RSS 2 s after answering: "
        f"{opt(rss, '{:.1f} MiB')} (VmHWM {opt(int(start['idle_hwm_kib']) / 1024 if 'idle_hwm_kib' in start else None, '{:.1f} MiB')}).",
        "",
        "### Commands",
        "",
        "```",
    ]
    try:
        with open(os.path.join(out, "commands.txt")) as f:
            lines += [l.rstrip("\n") for l in f]
    except OSError:
        lines.append("(no commands recorded)")
    lines += ["```", "", END]
    text = "\n".join(lines) + "\n"
    if write:
        with open(write) as f:
            doc = f.read()
        if START not in doc or END not in doc:
            sys.exit(f"{write} has no {START} ... {END} markers")
        head, rest = doc.split(START, 1)
        _, tail = rest.split(END, 1)
        with open(write, "w") as f:
            f.write(head + text.rstrip("\n") + tail)
        print(f"figures written to {write}")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
