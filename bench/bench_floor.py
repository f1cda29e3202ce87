"""The refresh floor: how long a small business waits for an hour's new events to reach
the marts, beside the SQL time the build's statements took; prints each figure beside
its target (3 s).

    .venv/bin/python bench/bench_floor.py [--leads 1500 10000] [--runs 5]

For each size, the project's generator makes 14 weeks of history ending now, on a
throwaway database on TEST_PG_ADMIN_URL's server; everything sent up to 4·RUNS hours
ago is stored and fully built. Then each of the last hours is stored as its own batch
and refreshed:

1. the scheduled refresh: ``booking-report refresh --no-sync`` in a fresh process, as of
   the hour's end, every model and data test (RUNS hours, the median);
2. ``refresh()`` in this process, dbt imported and the project parsed once, every model
   (a warm-up hour, then RUNS-1 hours, the median);
3. the same, only what changed (``only_changed``), as the page's refresh worker runs it
   (RUNS hours, the median, with the median number of models it ran);
4. "Refresh now" on the page: a real ``booking-report serve``, a POST to /refresh, until
   the browser shows the page with the new batch (``refresh_now``; the refresh log must
   then hold exactly one new batch; the last RUNS hours, as of the real clock; the first
   press starts the worker, so the median is of warm ones).

"SQL" is the database's own count of time spent executing statements in the benchmark
database during the refresh (``pg_stat_database.active_time``): the floor's distance
from it is dbt's fixed cost per node (rendering, metadata queries, the run's setup).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import statistics
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench.measure import run_cli
from bench.scale_data import WEEKS, sent_at
from booking_report.demo.landing import load_crm, store_bodies
from booking_report.demo.scenario import generate
from devtools.net import start_serve, stop_serve
from devtools.pg import create_database, database_name, drop_database

TARGET_SECONDS = 3.0


def active_ms(dsn: str) -> float:
    """Milliseconds spent executing statements in this database so far (stats of
    backends that have ended or reported)."""
    time.sleep(1.1)  # a backend reports its statistics at most once a second
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("select pg_stat_clear_snapshot()")
        return float(conn.execute(
            "select active_time from pg_stat_database where datname = %s",
            (database_name(dsn),)).fetchone()[0])


def batch_count(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
        return conn.execute("select count(*) from booking_intermediate.int_refresh_log"
                            ).fetchone()[0]


def refresh_now(url: str, dsn: str, timeout: float = 300) -> float:
    """Seconds from pressing "Refresh now" to the browser showing the page with the new
    batch: the press waits for the refresh (up to 10 s) and is redirected to the page; a
    page that still says a refresh is running reloads itself every 5 s, as the
    browser's would (its meta refresh)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(url + "/report", timeout=30).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    before = batch_count(dsn)
    started = time.perf_counter()
    body = urllib.parse.urlencode({"csrf_token": token, "return_to": "/report"}).encode()
    page = opener.open(urllib.request.Request(url + "/refresh", data=body, method="POST"),
                       timeout=60).read().decode()  # the redirect is followed
    while 'id="refresh-running"' in page:
        if time.perf_counter() - started > timeout:
            raise SystemExit("Refresh now did not finish in time")
        time.sleep(5)
        page = opener.open(url + "/report", timeout=30).read().decode()
    seconds = time.perf_counter() - started
    if batch_count(dsn) != before + 1:
        raise SystemExit(f"Refresh now finished without a new batch ({before} before, "
                         f"{batch_count(dsn)} after)")
    return seconds


def one_size(leads: int, runs: int) -> dict[str, float]:
    from booking_report.refresh import refresh  # dbt is imported only for part 2

    as_of = datetime.now(UTC).replace(microsecond=0)
    sc = generate(42, as_of=as_of, leads=leads, weeks=WEEKS)
    hours = 4 * runs
    start = as_of - timedelta(hours=hours)
    by_hour: list[list[bytes]] = [[] for _ in range(hours)]
    early = []
    for body in sc.bodies:
        sent = sent_at(body)
        if sent < start:
            early.append(body)
        else:
            by_hour[min(hours - 1, int((sent - start).total_seconds() // 3600))].append(body)
    dsn = create_database("brfloor")
    data_dir = f"/tmp/{database_name(dsn)}-data"
    env = dict(os.environ, DATABASE_URL=dsn, DBT_SEND_ANONYMOUS_USAGE_STATS="false",
               BOOKING_REPORT_DATA_DIR=data_dir)
    figures: dict[str, float] = {"leads": leads}
    scheduled, pressed, worker, changed, ran, sql_ms = [], [], [], [], [], []
    hour = iter(range(hours))

    def next_batch() -> str:
        h = next(hour)
        store_bodies(dsn, by_hour[h])
        return (start + timedelta(hours=h + 1)).isoformat()

    proc = None
    try:
        run_cli(["init-db"], env)
        store_bodies(dsn, early)
        load_crm(dsn, sc)
        run_cli(["refresh", "--no-sync", "--full-refresh", "--as-of", start.isoformat()], env)
        for _ in range(runs):  # 1. a fresh process, as the schedule runs it
            hour_as_of = next_batch()
            before = active_ms(dsn)
            secs, _, _ = run_cli(["refresh", "--no-sync", "--as-of", hour_as_of], env)
            scheduled.append(secs)
            sql_ms.append(active_ms(dsn) - before)
        # 2. a long-lived worker: this process, dbt imported, the project parsed once
        target = Path(data_dir) / "worker"
        os.environ.update(DBT_SEND_ANONYMOUS_USAGE_STATS="false")
        refresh(dsn, as_of=next_batch(), target_dir=target)  # warm-up: the parse
        for _ in range(runs - 1):
            hour_as_of = next_batch()
            started = time.perf_counter()
            outcome = refresh(dsn, as_of=hour_as_of, target_dir=target)
            worker.append(time.perf_counter() - started)
            assert outcome.build.success, outcome.build.failures
        results = json.loads((target / "target" / "run_results.json").read_text())
        figures["dbt nodes per refresh"] = len(results["results"])
        for _ in range(runs):  # 3. the same, only what changed
            hour_as_of = next_batch()
            started = time.perf_counter()
            outcome = refresh(dsn, as_of=hour_as_of, target_dir=target, only_changed=True)
            changed.append(time.perf_counter() - started)
            assert outcome.build.success, outcome.build.failures
            ran.append(outcome.only_changed[0])
            figures["models"] = outcome.only_changed[1]
        # 4. "Refresh now": the page's worker refreshes as of the real clock
        proc, url = start_serve({"DATABASE_URL": dsn, "BOOKING_REPORT_DATA_DIR": data_dir,
                                 "CALCOM_WEBHOOK_SECRETS": "bench-secret"}, output=False)
        for _ in range(runs):
            next_batch()
            pressed.append(refresh_now(url, dsn))
    finally:
        if proc:
            stop_serve(proc)
        drop_database(dsn)
    figures["events per hour (median)"] = statistics.median(len(b) for b in by_hour)
    figures["scheduled refresh (s)"] = statistics.median(scheduled)
    figures["its SQL (s)"] = statistics.median(sql_ms) / 1000
    figures["in-process, parsed (s)"] = statistics.median(worker)
    figures["only what changed (s)"] = statistics.median(changed)
    figures["models run, only what changed"] = statistics.median(ran)
    figures["Refresh now (s)"] = statistics.median(pressed)
    return figures


def print_floor(figures: dict[str, float], runs: int) -> None:
    """One size's figures (JSON on stderr), each beside the 3 s target."""
    print(json.dumps(figures), file=sys.stderr)
    print(f"\n== the refresh floor, {figures['leads']:,.0f} leads: an hour's batch "
          f"({figures['events per hour (median)']:.0f} events, median of {runs}), "
          f"{figures['dbt nodes per refresh']:.0f} dbt nodes; only what changed ran "
          f"{figures['models run, only what changed']:.0f} of {figures['models']:.0f} models")
    for key in ("scheduled refresh (s)", "its SQL (s)", "in-process, parsed (s)",
                "only what changed (s)", "Refresh now (s)"):
        verdict = "" if key == "its SQL (s)" else (
            f"  target <= {TARGET_SECONDS:g}: "
            f"{'met' if figures[key] <= TARGET_SECONDS else 'MISSED'}")
        print(f"  {key:<24} {figures[key]:>9.2f}{verdict}")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, nargs="+", default=[1500, 10_000])
    parser.add_argument("--runs", type=int, default=5, help="hours per figure (median)")
    args = parser.parse_args()
    if args.runs < 2:
        parser.error("--runs must be at least 2")
    for leads in args.leads:
        print_floor(one_size(leads, args.runs), args.runs)


if __name__ == "__main__":
    main()
