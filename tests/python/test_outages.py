"""The receiver under a hung database, an outage, a restart during it, slow clients and
a torn spool file. A throwaway cluster plays the database that fails; never the shared
server."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, LiveServer, fetchall, fixture_body, wait_for
from httpclient import post_webhook, request

from booking_report.server import create_server_app
from devtools import net
from devtools.cluster import Cluster
from devtools.net import SlowClients, stop_serve
from ingest import spool
from ingest.db import init_db

# one module fixture (built once) serves every test here: one worker runs them
pytestmark = [pytest.mark.outage, pytest.mark.xdist_group("outages")]

SECRET = "outage-secret"


@pytest.fixture(scope="module")
def cluster():
    db = Cluster()
    init_db(db.dsn)
    yield db
    db.destroy()


def count_events(dsn: str) -> int:
    return fetchall(dsn, "select count(*) from raw.calcom_webhook_events")[0][0]


def start_serve(dsn: str, tmp_path: Path, **env_extra: str) -> tuple[subprocess.Popen, str]:
    return net.start_serve(dict(DATABASE_URL=dsn, CALCOM_WEBHOOK_SECRETS=SECRET,
                                BOOKING_REPORT_SPOOL_DIR=str(tmp_path / "spool"),
                                BOOKING_REPORT_DATA_DIR=str(tmp_path), **env_extra))


def test_a_hung_database_means_spool_within_the_deadline_then_drained(cluster, tmp_path):
    spool_dir = tmp_path / "spool"
    app = create_server_app({"DATABASE_URL": cluster.dsn, "CALCOM_WEBHOOK_SECRETS": [SECRET],
                             "SPOOL_DIR": str(spool_dir), "DB_PROBE_SECONDS": 0.3})
    before = count_events(cluster.dsn)
    first, second = fixture_body("BOOKING_CREATED"), fixture_body("BOOKING_CANCELLED")
    with LiveServer(app) as live:
        assert post_webhook(live.url, first, SECRET).status == 200
        cluster.freeze()
        try:
            started = time.monotonic()
            answer = post_webhook(live.url, second, SECRET)
            waited = time.monotonic() - started
            assert answer.status == 202 and answer.json() == {"status": "spooled"}
            assert waited < 3.5, f"a hung database held the delivery {waited:.1f} s"
            # the breaker is open: the next delivery does not wait at all
            started = time.monotonic()
            assert post_webhook(live.url, fixture_body("PING"), SECRET).status == 202
            assert time.monotonic() - started < 1.0
            health = request(live.url + "/healthz").json()
            assert health["database"] == "unreachable" and health["spool_depth"] == 2
        finally:
            cluster.thaw()
        # no new traffic: the receiver notices the database is back and drains
        assert wait_for(lambda: not spool.pending(spool_dir), 15), "spool not drained"
    assert count_events(cluster.dsn) == before + 3


def test_serve_starts_during_an_outage_spools_and_drains_when_it_returns(cluster, tmp_path):
    before = count_events(cluster.dsn)
    cluster.stop()
    try:
        proc, url = start_serve(cluster.dsn, tmp_path)
    except Exception:
        cluster.start()
        raise
    try:
        health = request(url + "/healthz")
        assert health.status == 200 and health.json()["accepting_deliveries"]
        bodies = [fixture_body(t) for t in ("BOOKING_REQUESTED", "BOOKING_REJECTED",
                                            "MEETING_STARTED")]
        for body in bodies:
            answer = post_webhook(url, body, SECRET)
            assert answer.status == 202, answer.body
        health = request(url + "/healthz").json()
        assert (health["database"], health["spool_depth"]) == ("unreachable", 3)
        cluster.start()
        assert wait_for(lambda: count_events(cluster.dsn) == before + 3, 20), \
            "the receiver did not drain the spool after the database came back"
        assert wait_for(lambda: request(url + "/healthz").json()["spool_depth"] == 0, 5)
        assert request(url + "/healthz").json()["database"] == "reachable"
    finally:
        out = stop_serve(proc)
    assert "database: unreachable" in out, out
    assert "Traceback" not in out, out


def test_drain_spool_moves_a_torn_file_aside_once_and_says_what_is_left(raw_db, tmp_path):
    spool_dir = tmp_path / "spool"
    good = fixture_body("BOOKING_CREATED")
    spool.write(spool_dir, good, webhook_version="2021-10-20", secret_index=0)
    torn = spool.write(spool_dir, fixture_body("PING"), webhook_version=None, secret_index=0)
    torn.write_text(torn.read_text()[:40])  # a crash mid-copy, a bad disk
    env = dict(os.environ, DATABASE_URL=raw_db, BOOKING_REPORT_SPOOL_DIR=str(spool_dir))

    def drain_cli():
        return subprocess.run([sys.executable, "-m", "booking_report.cli", "drain-spool"],
                              env=env, cwd=REPO, capture_output=True, text=True, timeout=120)

    first = drain_cli()
    assert first.returncode == 1
    assert "drained 1 spooled deliveries" in first.stdout and "1 set aside" in first.stdout
    assert "Traceback" not in first.stderr
    assert [bytes(b) for (b,) in fetchall(raw_db, "select raw_body from"
                                                  " raw.calcom_webhook_events")] == [good]
    assert spool.pending(spool_dir) == []
    assert [p.name for p in spool.unreadable(spool_dir)] == [torn.name]
    second = drain_cli()  # not retried, not a traceback: still reported, still non-zero
    assert second.returncode == 1 and "drained 0" in second.stdout
    assert "Traceback" not in second.stderr


def test_slow_and_idle_clients_do_not_starve_deliveries(raw_db, tmp_path):
    proc, url = start_serve(raw_db, tmp_path)
    port = int(url.rsplit(":", 1)[1])
    try:
        # 150 slow sockets, 30 from each of five addresses: each address stays under the
        # per-client cap (that cap has its own test in test_hostile.py), so every one of
        # them holds a socket while the genuine deliveries arrive
        with contextlib.ExitStack() as stack:
            groups = [stack.enter_context(SlowClients(port, source=f"127.0.0.{i + 2}", **kind))
                      for i, kind in enumerate([{"idle": 30}, {"idle": 30}, {"slow_body": 30},
                                                {"slow_body": 30}, {"slow_headers": 30}])]
            assert [group.refused for group in groups] == [0] * 5
            time.sleep(1.5)  # every slow client is connected and trickling
            for trigger in ("BOOKING_CREATED", "BOOKING_CANCELLED", "BOOKING_RESCHEDULED"):
                started = time.monotonic()
                answer = post_webhook(url, fixture_body(trigger), SECRET)
                waited = time.monotonic() - started
                assert answer.status == 200, answer.body
                assert waited < 1.0, f"a normal delivery waited {waited:.2f} s"
            assert sum(group.still_open() for group in groups) > 0  # still held
    finally:
        stop_serve(proc)
    assert count_events(raw_db) == 3


def test_behind_a_named_proxy_the_client_address_is_the_forwarded_one(raw_db, tmp_path):
    """Only a proxy named in BOOKING_REPORT_TRUSTED_PROXY may say who the client is."""
    proc, url = start_serve(raw_db, tmp_path, BOOKING_REPORT_TRUSTED_PROXY="127.0.0.1")
    try:
        request(url + "/webhooks/calcom", method="POST", body=fixture_body("PING"),
                headers={"Content-Type": "application/json",
                         "X-Forwarded-For": "203.0.113.7"})
    finally:
        stop_serve(proc)
    proc, url = start_serve(raw_db, tmp_path)  # no proxy named: the header is ignored
    try:
        request(url + "/webhooks/calcom", method="POST", body=fixture_body("PING"),
                headers={"Content-Type": "application/json",
                         "X-Forwarded-For": "198.51.100.9"})
    finally:
        stop_serve(proc)
    assert fetchall(raw_db, "select remote_addr from raw.calcom_rejected_deliveries"
                            " order by rejection_id") == [("203.0.113.7",), ("127.0.0.1",)]
