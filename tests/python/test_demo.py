"""The README's main job end to end: embedded Postgres, real receiver, dbt, report."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from helpers import REPO

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
