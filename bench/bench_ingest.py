"""Receiver and refresh throughput on this machine; prints its figures.

    .venv/bin/python bench/bench_ingest.py [--leads 1500] [--weeks 12]

Sends signed deliveries to a real `booking-report serve` (waitress) on
127.0.0.1 only, from 4 client threads, then times `dbt build` on the result. Uses a
throwaway database on TEST_PG_ADMIN_URL's server (default 127.0.0.1:5432) and drops it.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from booking_report.demo.landing import load_crm  # noqa: E402
from booking_report.demo.scenario import generate  # noqa: E402
from booking_report.refresh import refresh  # noqa: E402
from devtools.net import free_port, wait_healthy  # noqa: E402
from ingest.db import init_db  # noqa: E402
from ingest.signature import sign  # noqa: E402

ADMIN = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=1500)
    parser.add_argument("--weeks", type=int, default=12)
    args = parser.parse_args()
    name = f"brbench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    dsn = make_conninfo(ADMIN, dbname=name)
    proc = None
    try:
        init_db(dsn)
        sc = generate(2026, as_of=datetime(2026, 11, 23, 12, tzinfo=UTC), leads=args.leads,
                      weeks=args.weeks)
        port = free_port()
        env = dict(os.environ, DATABASE_URL=dsn, CALCOM_WEBHOOK_SECRETS=SECRET)
        proc = subprocess.Popen([sys.executable, "-m", "booking_report.cli", "serve",
                                 "--port", str(port)], env=env, cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
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
            proc.terminate()
            proc.wait(timeout=20)
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(conninfo_to_dict(dsn)["dbname"])))


if __name__ == "__main__":
    main()
