"""The README's main job end to end: embedded Postgres, real receiver, dbt, report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from helpers import REPO, create_database, drop_database

from booking_report.demo.landing import post_bodies
from booking_report.demo.run import DEMO_SECRET, start_receiver
from devtools.net import free_port, stop_serve, wait_healthy
from ingest.db import init_db

pytestmark = pytest.mark.slow


def test_demo_runs_end_to_end_on_the_embedded_postgres(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "BOOKING_REPORT_DATABASE")}
    env["BOOKING_REPORT_DATA_DIR"] = str(tmp_path / "data")
    res = subprocess.run([sys.executable, "-m", "booking_report.cli", "demo", "--leads", "150",
                          "--weeks", "6"], env=env, cwd=REPO, capture_output=True, text=True,
                         timeout=600, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "using the embedded Postgres" in res.stderr
    assert "receiver answers: {200:" in res.stderr
    assert "forged deliveries refused with [401]" in res.stderr
    assert "refresh succeeded" in res.stderr
    assert "some are lost on purpose" in res.stderr
    assert "Cal.com sync (backfill, API 2026-05-01)" in res.stderr
    assert "Recovered from Cal.com:" in res.stdout
    assert "Booking & No-Show Status — week" in res.stdout
    assert "By lead source" in res.stdout and "Needs your answer:" in res.stdout
    # one lost-webhook figure: the sync's, as the page shows it
    assert len(re.findall(r"webhooks missed [0-9.]+%", res.stdout)) == 1, res.stdout
    assert "webhook loss" not in res.stdout
    assert (tmp_path / "data" / "pg").is_dir()


def test_the_demo_receiver_takes_more_deliveries_than_a_pipe_holds_log_lines(tmp_path):
    """The demo's receiver logs a line per delivery; 1,500 deliveries write far more
    than a pipe holds (64 KiB), so a log nobody reads would stop it mid-demo."""
    dsn = create_database("brdemo")
    try:
        init_db(dsn)
        port = free_port()
        log = tmp_path / "receiver.log"
        proc = start_receiver(dsn, port, log)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, proc)
            bodies = [json.dumps({"triggerEvent": "BOOKING_CREATED",
                                  "createdAt": "2026-11-20T10:00:00Z",
                                  "payload": {"uid": f"pipe-{i}"}}).encode()
                      for i in range(1500)]
            assert post_bodies(url, DEMO_SECRET, bodies) == {200: 1500}
        finally:
            stop_serve(proc)
        assert log.read_text().count("delivery stored") >= 1500
        assert log.stat().st_size > 64 * 1024
    finally:
        drop_database(dsn)
