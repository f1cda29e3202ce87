"""Everything works through a transaction-mode pooler with stock settings, as Supabase's
default (pooled) connection string gives it: Debian's pgbouncer, pool_mode=transaction,
no `ignore_startup_parameters` (so a startup `options` parameter is refused, as
Supabase's pooler refuses it). Each transaction may run on another server connection:
no startup options, no server-side prepared statements, no session-level locks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import REPO, LiveServer, cli, create_database, drop_database, fetchall
from httpclient import post_webhook, request
from reportkit import built_database

from booking_report.server import create_server_app
from devtools.net import start_serve, stop_serve
from devtools.pooler import PgBouncer
from ingest.db import init_db

pytestmark = pytest.mark.outage
SECRET = "pooler-secret"


@pytest.fixture
def pooled(raw_db):
    """(direct URL, pooled URL) of a fresh database with the raw schema."""
    with PgBouncer(raw_db, pool_size=3) as pool:
        yield raw_db, pool.pooled(raw_db)


def body(i: int) -> bytes:
    return json.dumps({"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-11-20T10:00:00Z",
                       "payload": {"uid": f"pooled-{i}", "startTime": "2026-11-25T10:00:00Z",
                                   "endTime": "2026-11-25T10:30:00Z",
                                   "attendees": [{"email": f"p{i}@example.com"}]}}).encode()


def test_the_receiver_stores_every_delivery_through_the_pooler(pooled, tmp_path):
    """300 deliveries from 8 clients through `serve` on the pooled URL: every one stored
    in the database at once (none spooled: no refused startup option, no prepared
    statement that another server connection does not have)."""
    direct, pooled_url = pooled
    proc, url = start_serve({"DATABASE_URL": pooled_url, "CALCOM_WEBHOOK_SECRETS": SECRET,
                             "BOOKING_REPORT_SPOOL_DIR": str(tmp_path / "spool"),
                             "BOOKING_REPORT_DATA_DIR": str(tmp_path)})
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: post_webhook(url, body(i), SECRET).status,
                                    range(300)))
        health = request(url + "/healthz").json()
    finally:
        out = stop_serve(proc)
    assert answers == [200] * 300, (sorted(set(answers)), out[-2000:])
    assert fetchall(direct, "select count(*) from raw.calcom_webhook_events") == [(300,)]
    assert health["database"] == "reachable" and health["spool_depth"] == 0, health
    assert "Traceback" not in out


def test_loaders_and_the_refresh_work_through_the_pooler_and_honour_as_of(pooled, tmp_path):
    """load-crm (COPY), import-events, then two refreshes through the pooled URL: the
    as_of given is the as_of the marts were built with, every time."""
    direct, pooled_url = pooled
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(body(i) for i in range(20)) + b"\n")
    crm = tmp_path / "crm.csv"
    crm.write_text("lead_id,created_at,email,source\n"
                   + "".join(f"L-{i},2026-11-18T09:00:00Z,p{i}@example.com,ads\n"
                             for i in range(20)))
    env = {"BOOKING_REPORT_DATA_DIR": str(tmp_path)}
    assert cli(pooled_url, "import-events", str(events), **env).returncode == 0
    loaded = cli(pooled_url, "load-crm", str(crm), **env)
    assert loaded.returncode == 0, loaded.stderr
    for as_of in ("2026-11-23T12:00:00Z", "2026-11-21T08:30:00Z"):
        res = cli(pooled_url, "refresh", "--as-of", as_of, **env)
        assert res.returncode == 0, res.stdout + res.stderr
        assert fetchall(direct, "select to_char(as_of at time zone 'UTC',"
                                " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') from reporting.feed_health"
                        ) == [(as_of,)]
    assert fetchall(direct, "select count(*) from reporting.fct_bookings") == [(20,)]


@pytest.mark.slow
def test_refreshes_started_together_through_the_pooler_wait_for_each_other(pooled, tmp_path):
    """Three `refresh` commands at once through the pooled URL: the lock holds across
    pooled connections (a transaction-level lock held by an open transaction), so they
    run one after another and all succeed (with a session-level lock two of three
    failed, building the same tables at once)."""
    direct, pooled_url = pooled
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(body(i) for i in range(40)) + b"\n")
    assert cli(pooled_url, "import-events", str(events)).returncode == 0
    procs = [subprocess.Popen([sys.executable, "-m", "booking_report.cli", "refresh",
                               "--as-of", "2026-11-23T12:00:00Z"],
                              env=dict(os.environ, DATABASE_URL=pooled_url,
                                       BOOKING_REPORT_DATA_DIR=str(tmp_path / f"run{i}")),
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
             for i in range(3)]
    outputs = [proc.communicate(timeout=600)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], "\n\n".join(outputs)
    # one after another: the first built everything, each later one saw the batch
    # before it completed (run together, two would have numbered the same batch)
    log = fetchall(direct, "select batch_no, was_full_refresh"
                           " from booking_intermediate.int_refresh_log order by batch_no")
    assert log == [(1, True), (2, False), (3, False)]
    assert fetchall(direct, "select count(*) from reporting.fct_bookings") == [(40,)]


def test_the_page_reads_through_the_pooler(templates, target_dir, tmp_path):
    """The page keeps a connection per thread and reads the same statements on every
    view: through the pooler no statement is prepared on the server (psycopg prepares
    one after five uses), and its settings are the transaction's own."""
    dsn = built_database(templates, target_dir)
    try:
        with PgBouncer(dsn, pool_size=2) as pool:
            app = create_server_app({"DATABASE_URL": pool.pooled(dsn),
                                     "CALCOM_WEBHOOK_SECRETS": [SECRET],
                                     "SPOOL_DIR": str(tmp_path / "spool"),
                                     "DATA_DIR": str(tmp_path)})
            with LiveServer(app) as live:
                def view(path: str) -> int:
                    return request(live.url + path).status

                statuses = [view(p) for p in ["/report", "/report.json"] * 8]
                with ThreadPoolExecutor(4) as threads:
                    statuses += list(threads.map(view, ["/report"] * 12))
        assert statuses == [200] * len(statuses)
    finally:
        drop_database(dsn)


def test_init_db_through_the_pooler_from_two_processes_at_once(tmp_path):
    """The migrations take a transaction-level lock: two `init-db` at once through the
    pooler both succeed and apply each migration once."""
    dsn = create_database()
    try:
        with PgBouncer(dsn) as pool:
            results: list[int] = []

            def run():
                results.append(cli(pool.pooled(dsn), "init-db").returncode)

            threads = [threading.Thread(target=run) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
        assert results == [0, 0]
        versions = fetchall(dsn, "select version from raw.schema_migrations order by 1")
        assert len(versions) == len({v for (v,) in versions}) >= 9
        init_db(dsn)  # and nothing is left to apply
    finally:
        drop_database(dsn)
