"""Clear errors and honest operations: an unreachable database, settings from the
command line and the environment, CRM headers, imports of the wrong shape, login
throttling and revocation, "Refresh now", and safe CSV exports."""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from helpers import (
    LiveServer,
    cli,
    create_database,
    drop_database,
    fetchall,
    fixture_body,
    wait_for,
)
from httpclient import post_webhook
from reportkit import Client, built_database

from booking_report.server import create_server_app
from booking_report.transform import run_dbt, stale_sources
from ingest.db import init_db
from ingest.store import parse_body, store_event
from report import web
from report.data import ReportData, csv_cell
from report.terminal import as_csv
from webauth import hash_password

DEAD = "postgresql://postgres@127.0.0.1:1/nowhere"
SECRET = "ops-secret"



@pytest.fixture(scope="module")
def known_db(templates, target_dir):
    dsn = built_database(templates, target_dir)
    yield dsn
    drop_database(dsn)


# ------------------------------------------------------------------ database down


@pytest.mark.parametrize("args", [
    ("init-db",), ("refresh",), ("report",), ("drain-spool",), ("import-events", "{file}"),
    ("load-crm", "{file}"),
])
def test_every_command_says_in_one_line_which_database_it_cannot_reach(args, tmp_path):
    data = tmp_path / "input.csv"
    data.write_text("lead_id,created_at\nL-1,2026-11-02T09:00:00Z\n")
    (tmp_path / "spool").mkdir()
    spooled = tmp_path / "spool"
    from ingest import spool
    spool.write(spooled, fixture_body("PING"), webhook_version=None, secret_index=0)
    res = cli(DEAD, *[a.format(file=data) for a in args],
              BOOKING_REPORT_SPOOL_DIR=str(spooled))
    assert res.returncode == 3, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, res.stderr
    assert "cannot reach the database at 127.0.0.1:1" in errors[0]
    assert "Check that Postgres is running" in errors[0]


def test_the_page_says_503_in_plain_words_when_its_database_is_down(tmp_path):
    app = create_server_app({"DATABASE_URL": DEAD, "CALCOM_WEBHOOK_SECRETS": [SECRET],
                             "SPOOL_DIR": str(tmp_path / "spool"), "DATA_DIR": str(tmp_path)})
    with LiveServer(app) as live:
        client = Client(live.url)
        page = client.request("/report")
        as_json = client.request("/report.json")
        bad_week = client.request("/report?week=last-tuesday")
    assert page.status == 503 and 'id="error"' in page.text
    assert "cannot be reached right now" in page.text and "Traceback" not in page.text
    assert as_json.status == 503 and as_json.headers["Content-Type"].startswith(
        "application/json")
    assert json.loads(as_json.text)["code"] == 503
    assert bad_week.status in (400, 503)  # never a bare framework page
    assert 'id="error"' in bad_week.text


def test_bad_week_and_source_get_friendly_pages_and_json(known_db, tmp_path):
    app = create_server_app({"DATABASE_URL": known_db, "CALCOM_WEBHOOK_SECRETS": [SECRET],
                             "SPOOL_DIR": str(tmp_path / "spool"), "DATA_DIR": str(tmp_path)})
    with LiveServer(app) as live:
        client = Client(live.url)
        page = client.request("/report?week=2026-47")
        source = client.request("/report?source=billboards")
        as_json = client.request("/report.json?source=billboards")
    assert page.status == 400 and 'id="error"' in page.text and "ISO week" in page.text
    assert source.status == 400 and "billboards" in source.text and "<!doctype" in source.text
    assert as_json.status == 400 and "billboards" in json.loads(as_json.text)["error"]


# ------------------------------------------------------------------ settings


@pytest.mark.slow
def test_timezone_and_metric_settings_from_the_command_line_and_the_environment(
        known_db, target_dir):
    res = cli(known_db, "refresh", "--as-of", "2026-11-23T12:00:00Z", "--var",
              "report_timezone=Europe/Berlin", "--var", "review_after_hours=48")
    assert res.returncode == 0, res.stderr
    assert fetchall(known_db, "select report_timezone from reporting.feed_health") == [
        ("Europe/Berlin",)]
    res = cli(known_db, "refresh", "--as-of", "2026-11-23T12:00:00Z",
              BOOKING_REPORT_TIMEZONE="America/New_York")
    assert res.returncode == 0, res.stderr
    assert fetchall(known_db, "select report_timezone from reporting.feed_health") == [
        ("America/New_York",)]
    # the terminal shows times in the zone the marts were built in
    text = cli(known_db, "report").stdout
    assert re.search(r"\(last event \d{4}-\d\d-\d\d \d\d:\d\d E[SD]T\)", text), text
    res = cli(known_db, "refresh", "--as-of", "2026-11-23T12:00:00Z")
    assert res.returncode == 0, res.stderr
    assert fetchall(known_db, "select report_timezone from reporting.feed_health") == [("UTC",)]


@pytest.mark.parametrize("args,needle", [
    (("--var", "report_timezone=Mars/Olympus"), "not an IANA zone name"),
    (("--var", "review_after_hours=soon"), "must be a number"),
    (("--var", "reveiw_after_hours=48"), "is not a setting of this project"),
    (("--var", "nonsense"), "expected NAME=VALUE"),
])
def test_bad_settings_are_refused_before_anything_is_built(known_db, args, needle):
    res = cli(known_db, "refresh", *args)
    assert res.returncode == 2 and needle in res.stderr and "Traceback" not in res.stderr


def test_an_as_of_in_the_future_needs_force(known_db):
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    res = cli(known_db, "refresh", "--as-of", future)
    assert res.returncode == 2 and "is in the future" in res.stderr and "--force" in res.stderr
    built = fetchall(known_db, "select as_of from reporting.feed_health")[0][0]
    assert built < datetime.now(UTC)  # nothing was rebuilt


# ------------------------------------------------------------------ loaders


def test_load_crm_matches_headers_ignoring_case_and_names_unused_columns(raw_db, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Lead ID,Created,Email,Source,Meeting Status,Phone\n"
                    "L-1,2026-11-02T09:00:00Z,ann@example.com,Ads,Meeting Booked,+1555\n")
    res = cli(raw_db, "load-crm", str(path), "--map", "lead_id=Lead ID",
              "--map", "created_at=Created", "--map", "booking_status=meeting status")
    assert res.returncode == 0, res.stderr
    assert fetchall(raw_db, "select lead_id, email, source, booking_status from"
                            " raw.crm_lead_snapshots") == [
        ("L-1", "ann@example.com", "Ads", "Meeting Booked")]
    assert "1 column matched no known field" in res.stdout and "Phone" in res.stdout


@pytest.mark.parametrize("content", [
    b"lead_id,created_at\nL-1,2026-11-02\n",
    b'[\n  {"triggerEvent": "BOOKING_CREATED",\n   "payload": {"uid": "x"}}\n]\n',
])
def test_import_events_of_the_wrong_shape_fails_with_a_hint(raw_db, tmp_path, content):
    path = tmp_path / "events.json"
    path.write_bytes(content)
    res = cli(raw_db, "import-events", str(path))
    assert res.returncode == 1
    assert "0 stored" in res.stdout
    assert "one whole webhook body per line" in res.stderr


# ------------------------------------------------------------------ login


def login_app(dsn, tmp_path):
    return create_server_app({
        "DATABASE_URL": dsn, "CALCOM_WEBHOOK_SECRETS": [SECRET],
        "SPOOL_DIR": str(tmp_path / "spool"), "DATA_DIR": str(tmp_path),
        "REQUIRE_LOGIN": True, "REPORT_USER": "owner",
        "REPORT_PASSWORD_HASH": hash_password("correct horse"), "SECRET_KEY": "k"})


def test_failed_logins_are_throttled_with_a_clear_wait(raw_db, tmp_path):
    with LiveServer(login_app(raw_db, tmp_path)) as live:
        client = Client(live.url)
        for _ in range(5):
            assert client.login("owner", "guess").status == 401
        locked = client.login("owner", "correct horse")
        assert locked.status == 429
        assert re.search(r"Try again in \d+ s", locked.text)
        assert int(locked.headers["Retry-After"]) > 0
        assert client.request("/report").status == 302  # still signed out


def test_logout_revokes_the_session_even_for_a_copied_cookie(known_db, tmp_path):
    with LiveServer(login_app(known_db, tmp_path)) as live:
        owner = Client(live.url)
        assert owner.login("owner", "correct horse").status == 303
        assert owner.request("/report").status == 200
        thief = Client(live.url)
        for cookie in owner.jar:
            thief.jar.set_cookie(cookie)
        assert thief.request("/report").status == 200
        token = owner.csrf("/report")
        assert owner.request("/logout", {"csrf_token": token}).status == 303
        assert owner.request("/report").status == 302
        assert thief.request("/report").status == 302, "a copied cookie outlived logout"


def test_a_login_flood_does_not_hold_up_deliveries(raw_db, tmp_path):
    app = login_app(raw_db, tmp_path)
    bodies = [json.dumps({"triggerEvent": "PING", "createdAt": "2026-11-20T10:00:00Z",
                          "n": n}).encode() for n in range(40)]
    stop = threading.Event()

    def flood():
        client = Client(live.url)
        while not stop.is_set():
            client.login("owner", "guess")

    with LiveServer(app) as live:
        calm = [timed_delivery(live.url, body) for body in bodies[:10]]
        with ThreadPoolExecutor(8) as pool:
            for _ in range(8):
                pool.submit(flood)
            time.sleep(0.5)
            try:
                busy = [timed_delivery(live.url, body) for body in bodies[10:]]
            finally:
                stop.set()
    print(f"delivery median {statistics.median(calm) * 1000:.1f} ms calm, "
          f"{statistics.median(busy) * 1000:.1f} ms under a login flood")
    assert statistics.median(busy) < max(0.25, 10 * statistics.median(calm))
    assert fetchall(raw_db, "select count(*) from raw.calcom_webhook_events") == [(40,)]


def timed_delivery(url: str, body: bytes) -> float:
    started = time.monotonic()
    assert post_webhook(url, body, SECRET).status == 200
    return time.monotonic() - started


# ------------------------------------------------------------------ refresh now


@pytest.mark.slow
def test_refresh_now_keeps_the_view_and_reuses_its_worker_until_idle(known_db, tmp_path):
    """"Refresh now" asks a long-lived worker: the second press is served by the same
    process without parsing the project again; after its idle time the worker ends by
    itself and is reaped, and the next press starts another."""
    app = create_server_app({"DATABASE_URL": known_db, "CALCOM_WEBHOOK_SECRETS": [SECRET],
                             "SPOOL_DIR": str(tmp_path / "spool"), "DATA_DIR": str(tmp_path),
                             "REFRESH_WORKER_IDLE_SECONDS": 4, "REFRESH_WAIT_SECONDS": 0})
    worker = app.extensions["refresh_worker"]
    log = tmp_path / "refresh.log"
    try:
        with LiveServer(app) as live:
            client = Client(live.url)
            view = "/report?week=2026-W46&source=ads"
            token = client.csrf(view)
            page = client.request(view)
            assert 'name="return_to" value="/report?week=2026-W46&amp;source=ads"' in page.text
            first = client.request("/refresh", {"csrf_token": token,
                                                "return_to": "/report?week=2026-W46&source=ads"})
            assert first.status == 303
            assert first.headers["Location"].startswith("/report?week=2026-W46&source=ads&refresh=")
            pid = worker.pid
            assert pid is not None
            second = client.request("/refresh", {"csrf_token": token, "return_to": view})
            assert "refresh=already-running" in second.headers["Location"]
            running = client.request(first.headers["Location"])
            assert '<meta http-equiv="refresh"' in running.text
            assert "A refresh is already running" in client.request(
                second.headers["Location"]).text
            assert worker.wait(240), log.read_text()[-2000:]
            assert worker.last["status"] == 0, log.read_text()[-2000:]
            assert worker.last["parses"] == 1
            done = client.request(first.headers["Location"])
            assert "Refresh finished" in done.text
            assert '<meta http-equiv="refresh"' not in done.text
            assert 'id="refresh-running"' not in done.text
            # the next press: the same process, the project not parsed again
            again = client.request("/refresh", {"csrf_token": token,
                                                "return_to": "//evil.example"})
            assert again.headers["Location"].startswith("/report?refresh=")
            assert worker.pid == pid
            assert worker.wait(240) and worker.last["status"] == 0, log.read_text()[-2000:]
            assert worker.last["parses"] == 1
            # idle: it ends by itself and is reaped (no zombie left under the server)
            assert wait_for(lambda: worker.pid is None, 30)
            assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 5)
            text = log.read_text()
            assert text.count("refresh succeeded") == 2
            assert "idle for 4 s, ending" in text
            # and the next press starts another; the browser waits for it (here up to
            # 240 s: a new worker imports dbt and parses first) and gets the fresh page
            app.config["REFRESH_WAIT_SECONDS"] = 240
            third = client.request("/refresh", {"csrf_token": token, "return_to": view})
            assert "refresh=started" in third.headers["Location"]
            assert worker.pid not in (None, pid)
            assert not worker.running and worker.last["status"] == 0, log.read_text()[-2000:]
            fresh = client.request(third.headers["Location"])
            assert "Refresh finished" in fresh.text
            assert '<meta http-equiv="refresh"' not in fresh.text
    finally:
        worker.stop()


@pytest.mark.slow
def test_a_worker_that_dies_mid_refresh_is_reaped_and_replaced(known_db, tmp_path):
    app = create_server_app({"DATABASE_URL": known_db, "CALCOM_WEBHOOK_SECRETS": [SECRET],
                             "SPOOL_DIR": str(tmp_path / "spool"), "DATA_DIR": str(tmp_path),
                             "REFRESH_WAIT_SECONDS": 0})
    worker = app.extensions["refresh_worker"]
    try:
        with LiveServer(app) as live:
            client = Client(live.url)
            token = client.csrf("/report")
            assert "refresh=started" in client.request(
                "/refresh", {"csrf_token": token}).headers["Location"]
            pid = worker.pid
            os.kill(pid, signal.SIGKILL)
            assert worker.wait(30)
            assert worker.last["error"] == "the worker ended"
            assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 5)
            assert 'id="refresh-running"' not in client.request("/report").text
            assert "refresh=started" in client.request(
                "/refresh", {"csrf_token": token}).headers["Location"]
            assert worker.pid not in (None, pid)
            assert worker.wait(240) and worker.last["status"] == 0, (
                tmp_path / "refresh.log").read_text()[-2000:]
    finally:
        worker.stop()


# ------------------------------------------------------------------ CSV


def test_csv_cells_cannot_run_as_formulas_and_rates_keep_four_decimals():
    row = {c: 0 for c in ("eligible_leads", "booked_leads")}
    data = ReportData(None, "all", None, None, breakdown=[{
        **{c: None for c in __import__("report.terminal", fromlist=["x"]).CSV_COLUMNS},
        **row, "lead_source": "=HYPERLINK(\"http://x\",\"y\")", "iso_week": "@SUM(A1)",
        "book_rate": Decimal("0.333333333333"), "delta_book_rate": Decimal("-0.05"),
        "is_book_rate_provisional": True}])
    text = as_csv(data)
    assert "'=HYPERLINK" in text and "'@SUM(A1)" in text
    assert ",0.3333," in text and ",-0.05," in text and ",true," in text
    assert csv_cell("+1 555") == "'+1 555" and csv_cell("-x") == "'-x"
    assert csv_cell(Decimal("-0.05")) == "-0.05" and csv_cell(7) == 7
    assert web.safe_filename('booking-report-2026-W47-a"b; c/../d') == \
        "booking-report-2026-W47-a_b_c_.._d"


def test_csv_download_has_a_safe_name(known_db, tmp_path):
    app = create_server_app({"DATABASE_URL": known_db, "CALCOM_WEBHOOK_SECRETS": [SECRET],
                             "SPOOL_DIR": str(tmp_path / "spool"), "DATA_DIR": str(tmp_path)})
    with LiveServer(app) as live:
        answer = Client(live.url).request("/report.csv?week=2026-W47&source=ads")
    assert answer.status == 200
    assert answer.headers["Content-Disposition"] == (
        'attachment; filename="booking-report-2026-W47-ads.csv"')
    for line in answer.text.splitlines()[1:]:
        for cell in line.split(","):
            assert not re.fullmatch(r"-?\d+\.\d{5,}", cell), cell


# ------------------------------------------------------------------ source freshness


def dbt_source_freshness(dsn: str, target: Path) -> list[str]:
    result = run_dbt(dsn, ["source", "freshness"], target_dir=target)
    return [f"{r.node.source_name}.{r.node.name} ({r.status})"
            for r in sorted(result.result.results, key=lambda r: r.node.unique_id)
            # (its results hold the on-run-start hook too)
            if str(r.node.resource_type) == "source" and str(r.status) != "pass"]


@pytest.mark.slow
def test_the_refresh_judges_source_freshness_as_dbt_source_freshness_does(tmp_path):
    """The refresh reads the sources' freshness thresholds from dbt's manifest and runs
    one query per source instead of a second dbt invocation (booking_report/transform.py,
    stale_sources). On the same tables, in three states, it must say what `dbt source
    freshness` itself says: empty tables (infinitely old), deliveries 100 hours old
    with a CRM export 10 hours old (the 72-hour threshold passed, not the 48-hour
    one), then fresh deliveries with a CRM export 50 hours old."""
    dsn = create_database("brfresh")
    try:
        init_db(dsn)
        seen = []
        for received_hours, snapshot_hours in [(None, None), (100, 10), (0.1, 50)]:
            with psycopg.connect(dsn) as conn:
                conn.execute("delete from raw.calcom_webhook_events")
                conn.execute("delete from raw.crm_snapshots")
                if received_hours is not None:
                    store_event(conn, fixture_body("BOOKING_CREATED"),
                                parse_body(fixture_body("BOOKING_CREATED")),
                                webhook_version="2021-10-20", secret_index=0,
                                source="webhook")
                    conn.execute("update raw.calcom_webhook_events set received_at ="
                                 " now() - interval '1 hour' * %s", (received_hours,))
                if snapshot_hours is not None:
                    conn.execute("insert into raw.crm_snapshots (snapshot_at, source_name,"
                                 " row_count) values (now() - interval '1 hour' * %s,"
                                 " 'crm.csv', 0)", (snapshot_hours,))
            theirs = dbt_source_freshness(dsn, tmp_path / "dbt")
            manifest = json.loads((tmp_path / "dbt" / "target" / "manifest.json").read_text())
            assert stale_sources(dsn, manifest) == theirs
            seen.append(theirs)
        assert seen == [["calcom.calcom_webhook_events (warn)", "crm.crm_snapshots (warn)"],
                        ["calcom.calcom_webhook_events (warn)"],
                        ["crm.crm_snapshots (warn)"]]
    finally:
        drop_database(dsn)
