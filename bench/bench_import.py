"""`booking-report import-events` throughput; prints its figures.

    .venv/bin/python bench/bench_import.py [--leads 8000]

Writes the generated scenario's deliveries as JSON lines, imports them into a
throwaway database on TEST_PG_ADMIN_URL's server through the real CLI, and drops it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.measure import run_cli
from booking_report.demo.landing import write_jsonl
from booking_report.demo.scenario import generate
from devtools.pg import create_database, drop_database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=8000)
    args = parser.parse_args()
    sc = generate(31, as_of=datetime(2026, 11, 23, 12, tzinfo=UTC), leads=args.leads, weeks=26)
    dsn = create_database("brbench")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "events.jsonl"
            write_jsonl(path, sc.bodies)
            size = path.stat().st_size
            env = dict(os.environ, DATABASE_URL=dsn)
            run_cli(["init-db"], env)
            elapsed, peak_mb, stdout = run_cli(["import-events", str(path)], env)
        print(stdout.strip())
        print(f"import-events: {len(sc.bodies)} lines ({size / 1e6:.1f} MB) in {elapsed:.1f} s "
              f"= {len(sc.bodies) / elapsed:.0f} lines/s (including process start)")
        print(f"peak RSS of the import-events process: {peak_mb:.0f} MiB "
              "(it streams the file: the figure should not grow with its size)")
    finally:
        drop_database(dsn)


if __name__ == "__main__":
    main()
