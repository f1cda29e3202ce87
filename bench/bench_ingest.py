"""Receiver and refresh throughput on this machine; prints its figures.

    .venv/bin/python bench/bench_ingest.py [--leads 1500] [--weeks 12]

Sends signed deliveries to a real `booking-report serve` (waitress) on
127.0.0.1 only, from 4 client threads, then times `dbt build` on the result. Uses a
throwaway database on TEST_PG_ADMIN_URL's server (default 127.0.0.1:5432) and drops it.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from booking_report.demo.landing import load_crm
from booking_report.demo.scenario import generate
from booking_report.refresh import refresh
from devtools.net import start_serve, stop_serve
from devtools.pg import create_database, database_name, drop_database
from ingest.db import init_db
from ingest.signature import sign

SECRET = "bench-secret"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=1500)
    parser.add_argument("--weeks", type=int, default=12)
    args = parser.parse_args()
    dsn = create_database("brbench")
    name = database_name(dsn)
    proc = None
    try:
        init_db(dsn)
        sc = generate(2026, as_of=datetime(2026, 11, 23, 12, tzinfo=UTC), leads=args.leads,
                      weeks=args.weeks)
        proc, url = start_serve({"DATABASE_URL": dsn, "CALCOM_WEBHOOK_SECRETS": SECRET},
                                statuses=(200,), output=False)
        latencies: list[float] = []

        def send(body: bytes) -> int:
            req = urllib.request.Request(url + "/webhooks/calcom", data=body, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "X-Cal-Signature-256": sign(body, SECRET)})
            start = time.perf_counter()
            with urllib.request.urlopen(req, timeout=30) as resp:
                resp.read()
            latencies.append(time.perf_counter() - start)
            return resp.status

        started = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(send, sc.bodies))
        elapsed = time.perf_counter() - started
        assert set(statuses) == {200}, set(statuses)
        latencies.sort()
        print(f"deliveries: {len(sc.bodies)} in {elapsed:.2f} s = "
              f"{len(sc.bodies) / elapsed:.0f}/s (4 clients, one waitress process)")
        print(f"latency: p50 {1000 * statistics.median(latencies):.1f} ms, "
              f"p95 {1000 * latencies[int(0.95 * len(latencies))]:.1f} ms, "
              f"max {1000 * latencies[-1]:.1f} ms")
        load_crm(dsn, sc)
        started = time.perf_counter()
        outcome = refresh(dsn, as_of=sc.as_of.isoformat(), unit_tests=False,
                          target_dir=Path("/tmp") / name)
        build = time.perf_counter() - started
        assert outcome.build.success, outcome.build.failures
        print(f"refresh (dbt build, data tests, no unit tests, freshness): {build:.1f} s for "
              f"{len(sc.leads)} leads, {outcome.facts['bookings']} bookings")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process (dbt runs in it): {rss:.0f} MiB")
    finally:
        if proc:
            stop_serve(proc)
        drop_database(dsn)


if __name__ == "__main__":
    main()
