"""Scale benchmark: full build, one-day refresh, page latency and loader memory at
10k / 100k / 1M leads; prints each figure beside its target and the growth ratios.

    .venv/bin/python bench/bench_scale.py [--leads 10000 100000 1000000] [--weeks 14] [--keep]

For each size, with the project's generator (14 weeks of history, bench/scale_data.py)
and the real CLI on a throwaway database on TEST_PG_ADMIN_URL's server:

1. ``import-events`` of the history (every delivery before the last 24 h) and
   ``load-crm`` of the CRM export: wall time and the process's own peak RSS
   (``--crm-exports K``: the export loaded K times, as K daily exports already in the
   history: the raw CRM table keeps every export);
2. ``refresh --full-refresh`` as of 24 h before the end: the full build;
3. ``import-events`` of the last 24 h and ``load-crm`` of the export again (a daily
   reload: most rows unchanged), then ``refresh`` as of the end: the one-day refresh;
4. ``serve``, then 200 sequential GETs of ``/report`` and of ``/report.json``.

First, for each ``--floor`` size (default 1,500 and 10,000 leads), the refresh floor of
``bench/bench_floor.py``: an hour's batch refreshed as scheduled, in-process, only what
changed, and by "Refresh now", each beside its 3 s target (``--floor`` alone: none).

``--batch-hours H`` (1 to 23) measures an H-hour refresh instead, as the shipped
schedules (hourly) run it: the history then also holds the day's bodies sent before the
last H hours, and the full build is as of H hours before the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

from bench.bench_floor import one_size as floor_size
from bench.bench_floor import print_floor
from bench.measure import run_cli
from bench.scale_data import DEFAULT_CACHE, WEEKS, ensure, sent_at
from devtools.net import start_serve, stop_serve
from devtools.pg import create_database, database_name, drop_database

TARGETS = {"full build (s)": 90, "1-day refresh (s)": 15, "/report p95 (ms)": 100,
           "/report.json p95 (ms)": 50, "import-events peak (MB)": 200,
           "load-crm peak (MB)": 200}


def latencies(url: str, n: int = 200) -> tuple[float, float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=30) as resp:
            resp.read()
        times.append(time.perf_counter() - started)
    times.sort()
    return 1000 * statistics.median(times), 1000 * times[int(0.95 * len(times)) - 1]


def page_latency(env: dict[str, str]) -> dict[str, float]:
    proc, url = start_serve(dict(env, CALCOM_WEBHOOK_SECRETS="bench-secret"), output=False)
    try:
        for path in ("/report", "/report.json"):
            latencies(url + path, 10)  # warm the connection pool
        html = latencies(url + "/report")
        api = latencies(url + "/report.json")
    finally:
        stop_serve(proc)
    return {"/report p50 (ms)": html[0], "/report p95 (ms)": html[1],
            "/report.json p50 (ms)": api[0], "/report.json p95 (ms)": api[1]}


def slowest_nodes(data_dir: str, n: int = 6) -> list[tuple[str, float]]:
    """The dbt nodes of the last build that took longest (dbt's own run_results.json):
    where a refresh's time went."""
    results = json.loads((Path(data_dir) / "dbt" / "target" / "run_results.json").read_text())
    nodes = sorted(((r["unique_id"].split(".")[-1], r["execution_time"])
                    for r in results["results"]), key=lambda item: -item[1])
    return [(name, round(secs, 2)) for name, secs in nodes[:n]]


def split_day(data: Path, meta: dict, hours: int) -> tuple[Path, Path, str, int]:
    """The day's bodies sent before the last ``hours`` hours and those sent in them
    (files cached beside the day's), the as_of between them, and the later count."""
    as_of = datetime.fromisoformat(meta["as_of"])
    cut = as_of - timedelta(hours=hours)
    early, late = data / f"day_before_last_{hours}h.jsonl", data / f"day_last_{hours}h.jsonl"
    if not late.exists():
        parts = early.with_suffix(".part"), late.with_suffix(".part")
        with (open(data / "day.jsonl", "rb") as day, open(parts[0], "wb") as before,
              open(parts[1], "wb") as after):
            for line in day:
                (after if sent_at(line.rstrip(b"\n")) >= cut else before).write(line)
        parts[0].rename(early)
        parts[1].rename(late)  # last: its presence means both are whole
    with open(late, "rb") as after:
        n_late = sum(1 for _ in after)
    return early, late, cut.isoformat(), n_late


def one_size(leads: int, cache: Path, keep: bool, crm_exports: int = 1,
             weeks: int = WEEKS, batch_hours: int = 24) -> dict[str, float]:
    data = ensure(leads, cache, weeks)
    meta = json.loads((data / "meta.json").read_text())
    label = "1-day" if batch_hours == 24 else f"{batch_hours}-hour"
    batch, history_as_of, n_batch = data / "day.jsonl", meta["history_as_of"], meta["day_events"]
    early = None
    if batch_hours != 24:
        early, batch, history_as_of, n_batch = split_day(data, meta, batch_hours)
    dsn = create_database(f"brscale_{leads}")
    name = database_name(dsn)
    env = dict(os.environ, DATABASE_URL=dsn, DBT_SEND_ANONYMOUS_USAGE_STATS="false",
               BOOKING_REPORT_DATA_DIR=f"/tmp/{name}-data")
    figures: dict[str, float] = {"leads": leads, "raw events": meta["history_events"]
                                 + meta["day_events"], "batch events": n_batch,
                                 "CRM exports": crm_exports + 1}
    try:
        run_cli(["init-db"], env)
        secs, peak, _ = run_cli(["import-events", str(data / "history.jsonl")], env)
        figures["import-events (s)"], figures["import-events peak (MB)"] = secs, peak
        if early is not None:
            run_cli(["import-events", str(early)], env)
        secs, peak, _ = run_cli(["load-crm", str(data / "crm.csv")], env)
        figures["load-crm (s)"], figures["load-crm peak (MB)"] = secs, peak
        for _ in range(crm_exports - 1):
            run_cli(["load-crm", str(data / "crm.csv")], env)
        secs, _, _ = run_cli(["refresh", "--no-sync", "--full-refresh",
                              "--as-of", history_as_of], env)
        figures["full build (s)"] = secs
        slowest = {"full build": slowest_nodes(env["BOOKING_REPORT_DATA_DIR"])}
        run_cli(["import-events", str(batch)], env)
        secs, peak, _ = run_cli(["load-crm", str(data / "crm.csv")], env)
        figures["load-crm (s)"] = max(figures["load-crm (s)"], secs)
        figures["load-crm peak (MB)"] = max(figures["load-crm peak (MB)"], peak)
        secs, _, _ = run_cli(["refresh", "--no-sync", "--as-of", meta["as_of"]], env)
        figures[f"{label} refresh (s)"] = secs
        slowest[f"{label} refresh"] = slowest_nodes(env["BOOKING_REPORT_DATA_DIR"])
        figures["slowest dbt nodes"] = slowest
        figures.update(page_latency(env))
    finally:
        if not keep:
            drop_database(dsn)
        else:
            print(f"kept {dsn}", file=sys.stderr)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--crm-exports", type=int, default=1,
                        help="CRM exports in the history before the day's (default 1)")
    parser.add_argument("--batch-hours", type=int, default=24, choices=range(1, 25),
                        metavar="H", help="the refresh's batch: the last H hours of bodies"
                        " (default 24, the one-day refresh the targets are set for)")
    parser.add_argument("--weeks", type=int, default=WEEKS,
                        help=f"weeks of history (default {WEEKS}); with the leads in proportion,"
                             " a day's batch stays the same size and only the history grows")
    parser.add_argument("--floor", type=int, nargs="*", default=[1500, 10_000],
                        metavar="LEADS", help="the refresh floor at these sizes first "
                        "(bench/bench_floor.py; default 1500 10000; none: --floor alone)")
    parser.add_argument("--floor-runs", type=int, default=5, help="hours per floor figure")
    args = parser.parse_args()
    if args.floor and args.floor_runs < 2:
        parser.error("--floor-runs must be at least 2")
    for n in args.floor:
        print_floor(floor_size(n, args.floor_runs), args.floor_runs)
    results = []
    for n in args.leads:
        figures = one_size(n, args.cache, args.keep, args.crm_exports, args.weeks,
                           args.batch_hours)
        results.append(figures)
        print(json.dumps(figures), file=sys.stderr)
        print(f"\n== {n:,} leads over {args.weeks} weeks, "
              f"{int(figures['raw events']):,} raw events "
              f"({int(figures['batch events']):,} in the last {args.batch_hours} h), "
              f"{int(figures['CRM exports'])} CRM exports")
        for key, value in figures.items():
            if key in ("leads", "raw events", "batch events", "CRM exports",
                       "slowest dbt nodes"):
                continue
            target = TARGETS.get(key)
            verdict = "" if target is None else (
                f"  target <= {target}: {'met' if value <= target else 'MISSED'}")
            print(f"  {key:<24} {value:>9.1f}{verdict}")
        refresh_key = next(k for k in figures if k.endswith(" refresh (s)"))
        print(f"  {refresh_key} / import-events (s): "
              f"{figures[refresh_key] / figures['import-events (s)']:.2f}"
              "  (compares runs made in different hours)")
        for build, nodes in figures.get("slowest dbt nodes", {}).items():
            print(f"  slowest in the {build}: "
                  + ", ".join(f"{name} {secs:.1f} s" for name, secs in nodes))
        sys.stdout.flush()
    by_size = {int(r["leads"]): r for r in results}
    if 100_000 in by_size and 1_000_000 in by_size and args.batch_hours == 24:
        small, big = by_size[100_000]["1-day refresh (s)"], by_size[1_000_000]["1-day refresh (s)"]
        growth = big / small
        print(f"\n1-day refresh growth 100k -> 1M: {growth:.2f}x  target <= 1.5x: "
              f"{'met' if growth <= 1.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
