"""The receiver under faults, on this machine; prints its figures.

    .venv/bin/python bench/bench_faults.py [--slow 400] [--outage-seconds 10]

1. Slow clients: a real `booking-report serve` on 127.0.0.1 with SLOW idle and
   byte-a-second connections open; signed deliveries from 4 client threads meanwhile,
   latency compared with the same deliveries and no slow clients.
2. Outage: a throwaway Postgres cluster (initdb in a temp folder, random port, run as
   the `postgres` user) is stopped under a running receiver; 16 client threads send
   signed deliveries as fast as they are answered for OUTAGE seconds; then the cluster
   starts again and the time until the receiver has drained its spool by itself is
   measured. Traffic goes to 127.0.0.1 only; everything stops by itself.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from devtools.cluster import Cluster
from devtools.net import SlowClients, start_serve, stop_serve
from devtools.pg import create_database, drop_database
from ingest.db import init_db
from ingest.signature import sign

SECRET = "bench-secret"


def serve(dsn: str, spool_dir: Path) -> tuple[subprocess.Popen, str]:
    return start_serve({"DATABASE_URL": dsn, "CALCOM_WEBHOOK_SECRETS": SECRET,
                        "BOOKING_REPORT_SPOOL_DIR": str(spool_dir)},
                       statuses=(200,), output=False)


def deliver(url: str, body: bytes) -> tuple[int, float]:
    req = urllib.request.Request(url + "/webhooks/calcom", data=body, method="POST",
                                 headers={"Content-Type": "application/json",
                                          "X-Cal-Signature-256": sign(body, SECRET)})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()
            status = resp.status
    except urllib.error.HTTPError as err:
        status = err.code
    except OSError:
        status = 0
    return status, time.perf_counter() - started


def bodies(n: int, tag: str) -> list[bytes]:
    return [json.dumps({"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-11-20T10:00:00Z",
                        "payload": {"uid": f"{tag}-{i}", "startTime": "2026-11-25T10:00:00Z",
                                    "endTime": "2026-11-25T10:30:00Z"}}).encode()
            for i in range(n)]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def latency_line(label: str, results: list[tuple[int, float]]) -> str:
    times = [t for _, t in results]
    statuses = sorted({s for s, _ in results})
    return (f"{label}: {len(results)} deliveries, answers {statuses}, p50 "
            f"{1000 * statistics.median(times):.1f} ms, p95 {1000 * pct(times, 0.95):.1f} ms, "
            f"max {1000 * max(times):.1f} ms")


def bench_slow_clients(slow: int) -> None:
    dsn = create_database("brbench")
    proc = None
    try:
        init_db(dsn)
        with tempfile.TemporaryDirectory() as tmp:
            proc, url = serve(dsn, Path(tmp) / "spool")
            with ThreadPoolExecutor(4) as pool:
                calm = list(pool.map(lambda b: deliver(url, b), bodies(300, "calm")))
            # half idle, half sending a 100 kB body a byte a second
            with SlowClients(int(url.rsplit(":", 1)[1]), idle=slow - slow // 2,
                             slow_body=slow // 2, interval=1.0, body_size=100_000):
                time.sleep(2)
                with ThreadPoolExecutor(4) as pool:
                    busy = list(pool.map(lambda b: deliver(url, b), bodies(300, "busy")))
        print(latency_line("slow clients: none open      ", calm))
        print(latency_line(f"slow clients: {slow} open     ", busy))
    finally:
        if proc:
            stop_serve(proc)
        drop_database(dsn)


def bench_outage(seconds: float) -> None:
    cluster = Cluster()
    proc = None
    try:
        init_db(cluster.dsn)
        with tempfile.TemporaryDirectory() as tmp:
            spool_dir = Path(tmp) / "spool"
            proc, url = serve(cluster.dsn, spool_dir)
            cluster.stop()
            results: list[tuple[int, float]] = []
            lock = threading.Lock()
            deadline = time.monotonic() + seconds
            counter = iter(range(10**9))

            def client():
                while time.monotonic() < deadline:
                    n = next(counter)
                    body = json.dumps({"triggerEvent": "BOOKING_CREATED",
                                       "createdAt": "2026-11-20T10:00:00Z",
                                       "payload": {"uid": f"outage-{n}"}}).encode()
                    outcome = deliver(url, body)
                    with lock:
                        results.append(outcome)

            started = time.monotonic()
            threads = [threading.Thread(target=client) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
            spooled = sum(1 for s, _ in results if s == 202)
            print(f"outage: {spooled} of {len(results)} deliveries spooled in {elapsed:.1f} s "
                  f"= {spooled / elapsed:.0f}/s (16 clients; the database stopped)")
            print(latency_line("outage latency               ", results))
            cluster.start()
            back = time.monotonic()
            while True:
                with psycopg.connect(cluster.dsn) as conn:
                    stored = conn.execute("select count(*) from raw.calcom_webhook_events"
                                          ).fetchone()[0]
                if stored >= spooled or time.monotonic() - back > 300:
                    break
                time.sleep(0.2)
            left = len(list(spool_dir.glob("*.json")))
            print(f"recovery: {stored} stored, {left} left in the spool, "
                  f"{time.monotonic() - back:.1f} s after the database came back "
                  "(no new traffic; the receiver drained by itself)")
    finally:
        if proc:
            stop_serve(proc)
        cluster.destroy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow", type=int, default=400)
    parser.add_argument("--outage-seconds", type=float, default=10)
    args = parser.parse_args()
    bench_slow_clients(args.slow)
    bench_outage(args.outage_seconds)


if __name__ == "__main__":
    main()
