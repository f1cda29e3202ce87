"""docs/roles.sql and dbt's grants give each part only what it needs."""

from __future__ import annotations

import os
import time
import uuid

import psycopg
import pytest
from helpers import REPO, LiveServer, fetchall, fixture_body
from httpclient import post_webhook, request
from psycopg.conninfo import make_conninfo

from booking_report.refresh import refresh
from booking_report.server import create_server_app
from devtools.net import start_serve, stop_serve
from ingest.db import init_db
from ingest.spool import drain

SECRET = "roles-secret"


@pytest.fixture
def roles(empty_db):
    suffix = uuid.uuid4().hex[:6]
    names = {base: f"{base}_{suffix}" for base in ("br_ingest", "br_report", "br_bi")}
    script = (REPO / "docs" / "roles.sql").read_text()
    for base, name in names.items():
        script = script.replace(base, name)
    init_db(empty_db)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(script)
    yield names
    with psycopg.connect(empty_db, autocommit=True) as conn:
        for name in names.values():
            conn.execute(f"drop owned by {name}")
            conn.execute(f"drop role {name}")


def test_receiver_works_with_insert_only_rights(empty_db, roles, tmp_path):
    ingest_dsn = make_conninfo(empty_db, user=roles["br_ingest"])
    app = create_server_app({"DATABASE_URL": ingest_dsn, "CALCOM_WEBHOOK_SECRETS": ["s"],
                             "SPOOL_DIR": str(tmp_path / "spool")})
    body = fixture_body("BOOKING_CREATED")
    with LiveServer(app) as live:
        assert post_webhook(live.url, body, "s").json() == {"status": "stored"}
        assert post_webhook(live.url, body, "s").json() == {"status": "duplicate"}
        assert post_webhook(live.url, body, "wrong").status == 401
    assert fetchall(empty_db, "select count(*) from raw.calcom_webhook_events") == [(1,)]
    assert fetchall(empty_db, "select count(*) from raw.calcom_rejected_deliveries") == [(1,)]
    with psycopg.connect(ingest_dsn) as conn, pytest.raises(
            psycopg.errors.InsufficientPrivilege):
        conn.execute("select payload from raw.calcom_webhook_events")


def readers_can_read(empty_db, roles) -> None:
    page = make_conninfo(empty_db, user=roles["br_report"])
    bi = make_conninfo(empty_db, user=roles["br_bi"])
    with psycopg.connect(page) as conn:
        conn.execute("select * from reporting.rpt_weekly_status")
        conn.execute("select * from reporting.feed_problems")
        conn.execute("select * from reporting_private.review_queue")
        conn.execute("select * from reporting_private.pending_confirmations")
    with psycopg.connect(bi) as conn:
        conn.execute("select * from reporting.fct_bookings")
        conn.execute("select * from reporting.feed_health")
    for dsn, query in [(bi, "select * from reporting_private.rpt_followups"),
                       (page, "select * from raw.crm_lead_snapshots"),
                       (bi, "select * from raw.calcom_webhook_events")]:
        with psycopg.connect(dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(query)


@pytest.mark.slow
def test_readers_keep_their_access_across_refreshes_with_and_without_role_variables(
        empty_db, roles, tmp_path, monkeypatch):
    """The README's cron line and the GitHub workflow refresh without
    BOOKING_REPORT_*_ROLE: the page and BI roles must still read afterwards."""
    monkeypatch.setenv("BOOKING_REPORT_PAGE_ROLE", roles["br_report"])
    monkeypatch.setenv("BOOKING_REPORT_BI_ROLE", roles["br_bi"])
    outcome = refresh(empty_db, as_of="2026-11-23T12:00:00+00:00", unit_tests=False,
                      target_dir=tmp_path / "dbt")
    assert outcome.build.success, outcome.build.failures
    readers_can_read(empty_db, roles)
    monkeypatch.delenv("BOOKING_REPORT_PAGE_ROLE")
    monkeypatch.delenv("BOOKING_REPORT_BI_ROLE")
    for _ in range(2):  # a scheduled refresh, then another (tables rebuilt each time)
        outcome = refresh(empty_db, as_of="2026-11-23T13:00:00+00:00", unit_tests=False,
                          target_dir=tmp_path / "dbt")
        assert outcome.build.success, outcome.build.failures
        readers_can_read(empty_db, roles)


@pytest.mark.slow
def test_a_refresh_without_role_variables_on_a_fresh_database_leaves_readers_reading(
        empty_db, roles, tmp_path):
    assert "BOOKING_REPORT_PAGE_ROLE" not in os.environ
    outcome = refresh(empty_db, as_of="2026-11-23T12:00:00+00:00", unit_tests=False,
                      target_dir=tmp_path / "dbt")
    assert outcome.build.success, outcome.build.failures
    readers_can_read(empty_db, roles)


def test_serve_runs_as_the_insert_only_role(empty_db, roles, tmp_path):
    """`booking-report serve` itself (not just the app object) under br_ingest: it must
    start (no DDL), say the schema is up to date, and store a delivery."""
    ingest_dsn = make_conninfo(empty_db, user=roles["br_ingest"])
    proc, url = start_serve({"DATABASE_URL": ingest_dsn, "CALCOM_WEBHOOK_SECRETS": SECRET,
                             "BOOKING_REPORT_SPOOL_DIR": str(tmp_path / "spool"),
                             "BOOKING_REPORT_DATA_DIR": str(tmp_path)})
    try:
        health = request(url + "/healthz").json()
        assert health["database"] == "reachable", health
        body = fixture_body("BOOKING_CREATED")
        answer = post_webhook(url, body, SECRET)
        assert answer.status == 200 and answer.json() == {"status": "stored"}
        assert post_webhook(url, body, "wrong").status == 401
        time.sleep(0.2)
    finally:
        out = stop_serve(proc)
    assert "raw schema up to date" in out, out
    assert "permission denied" not in out.lower() and "Traceback" not in out, out
    assert [bytes(b) for (b,) in fetchall(empty_db, "select raw_body from"
                                                    " raw.calcom_webhook_events")] == [body]
    assert fetchall(empty_db, "select reason, has_signature from"
                              " raw.calcom_rejected_deliveries") == [("bad_signature", True)]


def test_a_refused_write_is_spooled_not_lost(empty_db, roles, tmp_path):
    """A database error that is not a lost connection (here: a role without insert
    rights) still ends in the durable spool with a 202, never a 500."""
    bi_dsn = make_conninfo(empty_db, user=roles["br_bi"])
    spool_dir = tmp_path / "spool"
    app = create_server_app({"DATABASE_URL": bi_dsn, "CALCOM_WEBHOOK_SECRETS": ["s"],
                             "SPOOL_DIR": str(spool_dir)})
    body = fixture_body("BOOKING_CANCELLED")
    with LiveServer(app) as live:
        answer = post_webhook(live.url, body, "s")
    assert answer.status == 202 and answer.json() == {"status": "spooled"}
    assert fetchall(empty_db, "select count(*) from raw.calcom_webhook_events") == [(0,)]
    assert drain(spool_dir, empty_db).drained == 1
    assert [bytes(b) for (b,) in fetchall(
        empty_db, "select raw_body from raw.calcom_webhook_events")] == [body]
