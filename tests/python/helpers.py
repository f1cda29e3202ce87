"""Helpers shared by the test modules (tests never import each other)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from werkzeug.serving import make_server

from devtools.pg import ADMIN_URL, create_database, drop_database  # noqa: F401 (re-exported)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "calcom"
ARTIFACTS = REPO / "test-artifacts"
# the schemas dbt builds into (dbt_project.yml's *_schema vars, at their defaults)
SCHEMAS = ("booking_staging", "booking_intermediate", "reporting", "reporting_private")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


class LiveServer:
    """The real Flask app on a real socket (werkzeug, threaded), in this process."""

    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(5)
        store = self.app.extensions.get("delivery_store")
        if store is not None:
            store.close()


def fetchall(dsn: str, query: str, params=()) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def fixture_body(trigger: str) -> bytes:
    return (FIXTURES / f"{trigger}.json").read_bytes()


def cli(dsn: str | None, *args: str, timeout: float = 300, **env_extra: str
        ) -> subprocess.CompletedProcess:
    """`booking-report ARGS` in a subprocess against ``dsn``, stdin closed."""
    env = dict(os.environ, **env_extra)
    if dsn is not None:
        env["DATABASE_URL"] = dsn
    env.pop("BOOKING_REPORT_DATABASE", None)
    return subprocess.run([sys.executable, "-m", "booking_report.cli", *args], env=env,
                          capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          stdin=subprocess.DEVNULL)


# Runs a command and writes its peak resident memory (KiB) to a file. A fresh, small
# process: Linux carries the peak of the process a child was forked or vforked from
# into the child's own figure at exec, so the test process (hundreds of MB) must not be
# the measured command's parent.
_PEAK_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def cli_with_peak(dsn: str, *args: str, timeout: float = 300
                  ) -> tuple[subprocess.CompletedProcess, int]:
    """`cli`, and the peak resident memory (KiB) of the command's own process."""
    env = dict(os.environ, DATABASE_URL=dsn)
    env.pop("BOOKING_REPORT_DATABASE", None)
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        res = subprocess.run([sys.executable, "-c", _PEAK_LAUNCHER, str(peak_file),
                              sys.executable, "-m", "booking_report.cli", *args],
                             env=env, capture_output=True, text=True, cwd=REPO,
                             timeout=timeout, stdin=subprocess.DEVNULL)
        return res, int(peak_file.read_text())


def wait_for(predicate: Callable[[], bool], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()
