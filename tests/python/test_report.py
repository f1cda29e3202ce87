"""The page and the terminal report show exactly the numbers stored in the marts."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid

import psycopg
import pytest
from helpers import ADMIN_URL, REPO, LiveServer, cli, drop_database, fetchall
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from reportkit import (
    ANSWER_ORDER,
    Client,
    booking_of,
    built_database,
    card_value,
    queue_ids,
    stale_as_of,
)

from booking_report import locks
from booking_report.server import create_server_app, web_config_from_env
from devtools import net
from report import data as reportdata
from report.terminal import as_dict, render
from report.wording import hours, percent
from webauth import hash_password, item_anchor

WEEK = "2026-W47"
SECRET = "report-test-secret"



@pytest.fixture(scope="module")
def known_db(templates, target_dir):
    dsn = built_database(templates, target_dir)
    yield dsn
    drop_database(dsn)


def mart_row(dsn, week_start, source):
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute("select * from reporting.rpt_weekly_status"
                            " where iso_week = %s and lead_source = %s",
                            (week_start, source)).fetchone()


def app_for(dsn, tmp_path, **extra):
    return create_server_app({"DATABASE_URL": dsn, "CALCOM_WEBHOOK_SECRETS": [SECRET],
                              "SPOOL_DIR": str(tmp_path / "spool"),
                              "DATA_DIR": str(tmp_path), **extra})


# ------------------------------------------------------------------ terminal


def test_terminal_json_equals_the_marts(known_db):
    res = cli(known_db, "report", "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["week"] == WEEK  # default: the last complete week before as_of (a Monday)
    row = mart_row(known_db, WEEK, "all")
    for key, value in row.items():
        got = doc["metrics"][key]
        if value is None or isinstance(value, (bool, int, str)):
            assert got == value, key
        elif hasattr(value, "isoformat"):
            assert got == value.isoformat(), key
        else:
            assert got == pytest.approx(float(value)), key
    assert len(doc["sources"]) == len(fetchall(
        known_db, "select 1 from reporting.rpt_weekly_status where iso_week = %s", (WEEK,)))


def test_terminal_text_shows_the_stored_numbers(known_db):
    res = cli(known_db, "report", "--week", WEEK, "--source", "all")
    assert res.returncode == 0, res.stderr
    row = mart_row(known_db, WEEK, "all")
    text = res.stdout
    assert f"week {WEEK}" in text
    book_line = next(line for line in text.splitlines() if line.startswith("Book rate"))
    assert percent(row["book_rate"]) in book_line
    assert f"{row['booked_leads']} of {row['eligible_leads']} eligible leads" in book_line
    assert percent(row["prev_book_rate"]) in book_line
    assert f"{row['prev_booked_leads']} of {row['prev_eligible_leads']}" in book_line
    no_show_line = next(line for line in text.splitlines() if line.startswith("No-show rate"))
    assert percent(row["no_show_rate"]) in no_show_line
    assert ("a clear change" if row["is_no_show_rate_change_clear"]
            else "within normal variation") in no_show_line
    # two panels, each on its own week axis: never one chained funnel
    assert "→" not in text
    assert (f"{row['eligible_leads']} eligible leads, {row['booked_leads']} booked within "
            "14 days") in text
    assert f"{row['meetings_scheduled']} meetings scheduled: " in text
    open_items = len(queue_ids(known_db, "2026-11-16", open_only=True))
    assert f"Needs your answer: {open_items} meetings (week {WEEK})" in text


def test_terminal_week_in_progress_is_labelled_and_never_judged(known_db):
    """The week of as_of: marked in progress, no change called, no "none yet meetings"
    or "1 hours", and the two cohorts in two panels."""
    res = cli(known_db, "report", "--week", "2026-W48", "--source", "all")
    assert res.returncode == 0, res.stderr
    text = res.stdout
    assert "This week is not over" in text and "no change is called" in text
    table = text.split("change\n", 1)[1].split("\n\n", 1)[0]  # the headline table
    assert "clear change" not in table and "normal variation" not in table
    assert table.count("week not over") == 4  # every change but the one with no value
    assert not re.search(r"\bnone yet meetings\b|\b1 hours\b|\b1 meetings\b|figures needs", text)
    assert "→" not in text
    row = mart_row(known_db, "2026-W48", "all")
    assert f"{row['meetings_scheduled']} meetings scheduled: " in text or (
        row["meetings_scheduled"] == 1 and "1 meeting scheduled: " in text)
    for line in text.splitlines():  # columns never run into each other
        assert not re.search(r"[0-9%]needs manual confirm|[a-z][0-9]+%", line), line


def test_terminal_source_filter_and_csv(known_db):
    res = cli(known_db, "report", "--week", WEEK, "--source", "ads", "--format", "csv")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("week_start,iso_week,lead_source")
    header, values = lines[0].split(","), lines[1].split(",")
    row = mart_row(known_db, WEEK, "ads")
    record = dict(zip(header, values, strict=True))
    assert record["lead_source"] == "ads"
    assert int(record["eligible_leads"]) == row["eligible_leads"]
    assert int(record["no_shows"]) == row["no_shows"]


def test_terminal_rejects_unknown_week_and_source(known_db):
    res = cli(known_db, "report", "--week", "2026-47")
    assert res.returncode == 2 and "ISO week like 2026-W47" in res.stderr
    res = cli(known_db, "report", "--source", "billboards")
    assert res.returncode == 2 and "source 'billboards' is not in the report" in res.stderr


# ------------------------------------------------------------------ page


def test_page_headline_numbers_equal_the_marts(known_db, tmp_path):
    with LiveServer(app_for(known_db, tmp_path)) as live:
        page = Client(live.url).request("/report")
    assert page.status == 200
    row = mart_row(known_db, WEEK, "all")
    assert f"Week {WEEK}" in page.text
    assert card_value(page.text, "book_rate") == percent(row["book_rate"])
    assert card_value(page.text, "no_show_rate") == percent(row["no_show_rate"])
    assert card_value(page.text, "reschedule_rate") == percent(row["reschedule_rate"])
    assert card_value(page.text, "cancellation_rate") == percent(row["cancellation_rate"])
    assert card_value(page.text, "median_hours_to_book") == hours(row["median_hours_to_book"])
    # the two panels and the chart
    assert re.search(rf'data-step="scheduled">.*?<b class="num">'
                     rf'{row["meetings_scheduled"]}</b>', page.text, re.S)
    assert re.search(rf'data-step="eligible">.*?<b class="num">'
                     rf'{row["eligible_leads"]}</b>', page.text, re.S)
    assert page.text.count('class="point-book_rate"') >= 8
    assert "<title>2026-W47: book rate" in page.text
    assert "https://" not in page.text.split("<main>")[0]  # nothing fetched from outside


def test_page_source_filter_and_exports(known_db, tmp_path):
    with LiveServer(app_for(known_db, tmp_path)) as live:
        client = Client(live.url)
        page = client.request(f"/report?week={WEEK}&source=ads")
        as_json = client.request(f"/report.json?week={WEEK}&source=ads")
        as_csv = client.request(f"/report.csv?week={WEEK}&source=ads")
        bad = client.request("/report?week=2030-W01")
    row = mart_row(known_db, WEEK, "ads")
    assert page.status == 200 and "(Nov 16 – Nov 22, 2026) · ads" in page.text
    assert card_value(page.text, "book_rate") == percent(row["book_rate"])
    doc = json.loads(as_json.text)
    assert doc["source"] == "ads" and doc["metrics"]["eligible_leads"] == row["eligible_leads"]
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    assert as_csv.text.splitlines()[1].split(",")[2] == "ads"
    assert bad.status == 400 and "has not started yet" in bad.text


def test_empty_database_explains_how_to_connect(templates, target_dir, tmp_path):
    dsn = built_database(templates, target_dir, empty=True)
    try:
        with LiveServer(app_for(dsn, tmp_path)) as live:
            page = Client(live.url).request("/report")
        assert page.status == 200
        assert 'id="empty-state"' in page.text
        assert f"{live.url}/webhooks/calcom" in page.text
        assert "metadata[leadId]" in page.text
        res = cli(dsn, "report")
        assert res.returncode == 0 and "no data yet" in res.stdout
    finally:
        drop_database(dsn)


def test_marts_not_built_yet_is_an_empty_state_not_an_error(raw_db, tmp_path):
    with LiveServer(app_for(raw_db, tmp_path)) as live:
        page = Client(live.url).request("/report")
    assert page.status == 200 and 'id="empty-state"' in page.text


def test_fallback_when_the_feed_is_stale(templates, target_dir, tmp_path):
    dsn = built_database(templates, target_dir, as_of=stale_as_of())
    try:
        assert fetchall(dsn, "select status, is_fallback from reporting.feed_health") == [
            ("stale", True)]
        with LiveServer(app_for(dsn, tmp_path)) as live:
            page = Client(live.url).request(f"/report?week={WEEK}")
        assert 'id="fallback-banner"' in page.text and "Feed stale" in page.text
        assert card_value(page.text, "no_show_rate") == "needs manual confirm"
        row = mart_row(dsn, WEEK, "all")
        assert card_value(page.text, "book_rate") == percent(row["book_rate"])
        assert 'class="point-no_show_rate' not in page.text
        # the reminder verdict is a no-show figure: withheld too
        assert "Needs manual confirm: no-show figures are not shown" in page.text
        assert "fewer no-shows per 100" not in page.text
        res = cli(dsn, "report", "--week", WEEK)
        assert "!! Cal.com feed stale: no Cal.com event in the last 72 hours." in res.stdout
        assert "completed and no-show figures need manual confirm" in res.stdout
        no_show_line = next(line for line in res.stdout.splitlines()
                            if line.startswith("No-show rate"))
        assert "needs manual confirm" in no_show_line and "%" not in no_show_line
        # columns never run into each other, and no reminder verdict in fallback
        assert not re.search(r"\Sneeds manual confirm", res.stdout), res.stdout
        assert "Reminders:" not in res.stdout
    finally:
        drop_database(dsn)


def test_page_works_under_a_role_that_reads_only_the_marts(known_db, tmp_path):
    role = f"br_page_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(known_db, autocommit=True) as conn:
        conn.execute(f"create role {role} login")
        for schema in ("reporting", "reporting_private"):
            conn.execute(f"grant usage on schema {schema} to {role}")
            conn.execute(f"grant select on all tables in schema {schema} to {role}")
    try:
        page_dsn = make_conninfo(known_db, user=role)
        with psycopg.connect(page_dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from raw.calcom_webhook_events")
        with LiveServer(app_for(known_db, tmp_path, REPORT_DATABASE_URL=page_dsn)) as live:
            page = Client(live.url).request("/report")
        assert page.status == 200
        row = mart_row(known_db, WEEK, "all")
        assert card_value(page.text, "book_rate") == percent(row["book_rate"])
        assert 'id="review"' in page.text
    finally:
        with psycopg.connect(known_db, autocommit=True) as conn:
            conn.execute(f"drop owned by {role}")
            conn.execute(f"drop role {role}")


# ------------------------------------------------------------------ confirmations and login


def login_app(dsn, tmp_path):
    return app_for(dsn, tmp_path, REQUIRE_LOGIN=True, REPORT_USER="owner",
                   REPORT_PASSWORD_HASH=hash_password("correct horse"),
                   SECRET_KEY="test-key")


def test_login_is_required_where_configured(known_db, tmp_path):
    with LiveServer(login_app(known_db, tmp_path)) as live:
        client = Client(live.url)
        page = client.request("/report")
        assert page.status == 302 and "/login" in page.headers["Location"]
        assert client.request("/report.json").status == 302
        denied = client.request("/review/confirmations",
                                {"booking_id": "x", "outcome": "completed"})
        assert denied.status == 401
        wrong = client.login("owner", "wrong password")
        assert wrong.status == 401 and "Wrong user or password" in wrong.text
        ok = client.login("owner", "correct horse")
        assert ok.status == 303
        assert client.request("/report").status == 200
    assert fetchall(known_db, "select count(*) from raw.manual_outcomes where booking_id = 'x'"
                    ) == [(0,)]


def test_login_cannot_be_skipped_beyond_localhost(known_db, tmp_path):
    with pytest.raises(ValueError, match="BOOKING_REPORT_USER"):
        app_for(known_db, tmp_path, BIND_HOST="0.0.0.0")
    app = app_for(known_db, tmp_path, BIND_HOST="0.0.0.0", REPORT_USER="owner",
                  REPORT_PASSWORD_HASH=hash_password("correct horse"))
    assert app.config["REQUIRE_LOGIN"] and app.config["SESSION_COOKIE_SECURE"]
    assert app.config["SESSION_COOKIE_HTTPONLY"]


def test_confirmation_csrf_bad_value_and_success(known_db, tmp_path):
    # a meeting of the default week (W47), whose queue the page shows
    booking = fetchall(known_db, "select booking_id from reporting_private.review_queue"
                                 " where reason = 'no_outcome_evidence'"
                                 " and start_at >= date '2026-11-16'"
                                 " and start_at < date '2026-11-23' order by 1 limit 1")[0][0]
    with LiveServer(login_app(known_db, tmp_path)) as live:
        client = Client(live.url)
        assert client.login("owner", "correct horse").status == 303
        no_token = client.request("/review/confirmations",
                                  {"booking_id": booking, "outcome": "completed"})
        assert no_token.status == 403 and "CSRF" in no_token.text
        token = client.csrf("/report")
        bad = client.request("/review/confirmations",
                             {"csrf_token": token, "booking_id": booking, "outcome": "showed"})
        assert bad.status == 400
        assert "outcome &#39;showed&#39; is not one of: completed, no_show" in bad.text
        assert fetchall(known_db, "select count(*) from raw.manual_outcomes"
                                  " where booking_id = %s", (booking,)) == [(0,)]
        ok = client.request("/review/confirmations",
                            {"csrf_token": token, "booking_id": booking, "outcome": "no_show",
                             "note": "called, never joined", "return_to": "/report"})
        assert ok.status == 303 and "confirmed=" in ok.headers["Location"]
        # back to where the row was
        assert ok.headers["Location"].endswith("#" + item_anchor(booking))
        rows = fetchall(known_db, "select outcome, confirmed_by, note from raw.manual_outcomes"
                                  " where booking_id = %s", (booking,))
        assert rows == [("no_show", "owner", "called, never joined")]
        page = client.request("/report")
        # read live: the row says what was saved, with Undo, and leaves the count at once
        row = re.search(rf'<li id="{item_anchor(booking)}"[^>]*class="saved"(.*?)</li>',
                        page.text, re.S)
        assert row and 'data-saved="no_show"' in row.group(1) and "Undo" in row.group(1)
        before = reportdata.load_report(known_db, week=WEEK)
        assert before.review_open == len(queue_ids(known_db, "2026-11-16", open_only=True))
        assert booking not in {booking_of(known_db, i)
                               for i in queue_ids(known_db, "2026-11-16", open_only=True)}
        assert booking in {booking_of(known_db, i) for i in queue_ids(known_db, "2026-11-16")}


@pytest.mark.slow
def test_refresh_now_runs_in_the_background_under_the_lock(templates, target_dir, tmp_path):
    dsn = built_database(templates, target_dir, seed=12)
    # the browser waits at most a second for it; a new worker's first refresh (dbt
    # imported, the project parsed) takes longer, so the page answers "running"
    app = app_for(dsn, tmp_path, REFRESH_WAIT_SECONDS=1)
    try:
        before = fetchall(dsn, "select built_at from reporting.feed_health")[0][0]
        with LiveServer(app) as live:
            client = Client(live.url)
            token = client.csrf("/report")
            started = time.monotonic()
            answer = client.request("/refresh", {"csrf_token": token})
            assert answer.status == 303 and time.monotonic() - started < 5
            assert "refresh=started" in answer.headers["Location"]
            deadline = time.monotonic() + 240
            saw_running = False
            while time.monotonic() < deadline:
                page = client.request("/report")
                saw_running |= 'id="refresh-running"' in page.text
                if saw_running:
                    again = client.request("/refresh", {"csrf_token": token})
                    assert "already-running" in again.headers["Location"]
                    break
                time.sleep(0.2)
            assert saw_running, "the page never showed the refresh running"
            while time.monotonic() < deadline:
                after = fetchall(dsn, "select built_at from reporting.feed_health")[0][0]
                if after > before and 'id="refresh-running"' not in client.request(
                        "/report").text:
                    break
                time.sleep(1)
            assert after > before, (tmp_path / "refresh.log").read_text()
    finally:
        app.extensions["refresh_worker"].stop()
        drop_database(dsn)


def test_report_database_url_must_not_leak_into_the_page(known_db, tmp_path):
    params = conninfo_to_dict(known_db)
    with LiveServer(app_for(known_db, tmp_path)) as live:
        page = Client(live.url).request("/report")
    assert SECRET not in page.text
    assert params["dbname"] not in page.text


def test_a_refresh_in_another_database_is_not_this_ones(known_db, tmp_path):
    """Advisory locks are per database: another database's refresh must not show here."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as other:
        other.execute("select pg_advisory_lock(%s)", (locks.REFRESH,))
        with LiveServer(app_for(known_db, tmp_path)) as live:
            page = Client(live.url).request("/report")
        other.execute("select pg_advisory_unlock(%s)", (locks.REFRESH,))
    assert page.status == 200 and 'id="refresh-running"' not in page.text
    with psycopg.connect(known_db, autocommit=True) as same:
        same.execute("select pg_advisory_lock(%s)", (locks.REFRESH,))
        with LiveServer(app_for(known_db, tmp_path)) as live:
            page = Client(live.url).request("/report")
        same.execute("select pg_advisory_unlock(%s)", (locks.REFRESH,))
    assert 'id="refresh-running"' in page.text


def test_database_option_picks_another_database_on_the_server(known_db):
    name = conninfo_to_dict(known_db)["dbname"]
    env = dict(os.environ, DATABASE_URL=ADMIN_URL)
    res = subprocess.run([sys.executable, "-m", "booking_report.cli", "--database", name,
                          "report", "--format", "json"], env=env, capture_output=True,
                         text=True, cwd=REPO, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["week"] == WEEK


def test_the_page_reads_the_schemas_it_is_configured_with(known_db, tmp_path):
    cfg = web_config_from_env({"BOOKING_REPORT_REPORTING_SCHEMA": "bi_marts",
                               "BOOKING_REPORT_REPORTING_PRIVATE_SCHEMA": "owners"})
    assert (cfg["REPORTING_SCHEMA"], cfg["REPORTING_PRIVATE_SCHEMA"]) == ("bi_marts", "owners")
    with LiveServer(app_for(known_db, tmp_path, REPORTING_SCHEMA="bi_marts")) as live:
        page = Client(live.url).request("/report")
    assert page.status == 200 and 'id="empty-state"' in page.text  # no marts in bi_marts


# ------------------------------------------------------------------ long lists


def test_the_pages_lists_are_read_in_index_order_not_sorted(known_db, monkeypatch):
    """Every list the page cuts (`order by … limit`: the trend, the gaps, the follow-ups,
    each review reason's oldest items, with and without a source) is read from an index
    in its own order, so at a million leads the page never sorts a whole mart for its
    first rows (the gaps' sort was 13 ms of each page at 1M). Checked on the page's own
    queries, recorded as it loads, with sorting made prohibitively expensive for the
    planner: a query no index serves still shows a Sort node."""
    recorded: list[tuple[str, tuple]] = []
    execute = psycopg.Connection.execute

    def recording(conn, query, params=None, **kwargs):
        text = query.as_string(conn) if hasattr(query, "as_string") else str(query)
        if re.search(r"order by [^()]*limit %s( offset %s)?$", text.strip()):
            recorded.append((text, tuple(params or ())))
        return execute(conn, query, params, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", recording)
    source = fetchall(known_db, "select lead_source from reporting.rpt_weekly_status"
                                " where lead_source <> 'all' limit 1")[0][0]
    reportdata.load_report(known_db)
    reportdata.load_report(known_db, source=source)
    monkeypatch.setattr(psycopg.Connection, "execute", execute)
    lists = {re.sub(r"\s+", " ", text.split(" from ")[1].split(" order by ")[0])
             for text, _ in recorded}
    assert {'"reporting".reconciliation_gaps', '"reporting_private".rpt_followups',
            '"reporting_private".rpt_followups where lead_source = %s'} <= lists, lists
    assert any("review_queue" in name for name in lists), lists
    sorted_reads = []
    with psycopg.connect(known_db) as conn:
        conn.execute("set enable_sort = off")
        conn.execute("set enable_incremental_sort = off")
        for text, params in recorded:
            plan = "\n".join(row[0] for row in conn.execute("explain " + text, params))
            if "Sort" in plan:
                sorted_reads.append(f"{text}\n{plan}")
    assert sorted_reads == [], "\n\n".join(sorted_reads)


def test_the_page_keeps_its_connection_and_replaces_one_that_died(known_db):
    """A server thread lends its one connection again (a view opened two before), with
    the view's session settings undone and its row factory put back; a connection the
    server ended is replaced without failing the view."""
    from report.connections import close_all, page_connection

    def backend_and_zone() -> tuple[int, str]:
        with page_connection(known_db) as conn:
            return conn.execute("select pg_backend_pid(), current_setting('TimeZone')"
                                ).fetchone()

    try:
        first_pid, zone = backend_and_zone()
        with page_connection(known_db) as conn:
            conn.row_factory = dict_row
            conn.execute("select set_config('TimeZone', 'Pacific/Chatham', false)")
            assert conn.execute("select pg_backend_pid() as pid").fetchone()["pid"] == first_pid
        assert backend_and_zone() == (first_pid, zone)
        data = reportdata.load_report(known_db, week=WEEK, connection=page_connection)
        assert data.row is not None and backend_and_zone() == (first_pid, zone)

        with psycopg.connect(known_db, autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(%s)", (first_pid,))
        again = reportdata.load_report(known_db, week=WEEK, connection=page_connection)
        assert again.row == data.row
        assert backend_and_zone()[0] != first_pid
    finally:
        close_all()


def test_serve_reuses_its_page_connections_across_views(known_db, tmp_path):
    """Under the real server (`serve`, a fixed pool of threads; one here), views of the
    page reuse the thread's kept connection: seven views open at most one session (the
    database's own count, `pg_stat_database.sessions`; a view used to open two); and
    when the database ends that connection, the next views still work."""
    from report.connections import APPLICATION_NAME

    proc, url = net.start_serve({"DATABASE_URL": known_db, "CALCOM_WEBHOOK_SECRETS": SECRET,
                                 "BOOKING_REPORT_DATA_DIR": str(tmp_path)},
                                args=("--threads", "1"), statuses=(200,))
    try:
        with psycopg.connect(known_db, autocommit=True) as watch:
            def sessions() -> int:
                watch.execute("select pg_stat_clear_snapshot()")
                return watch.execute("select sessions from pg_stat_database"
                                     " where datname = current_database()").fetchone()[0]

            before = sessions()
            for path in ["/report"] * 6 + ["/report.json"]:
                assert urllib.request.urlopen(url + path, timeout=30).status == 200
            time.sleep(1.5)  # a session's count may reach the statistics a moment later
            assert sessions() - before <= 1

            kept = watch.execute("select pid from pg_stat_activity where application_name"
                                 " = %s and datname = current_database()",
                                 (APPLICATION_NAME,)).fetchall()
            assert len(kept) == 1, kept
            watch.execute("select pg_terminate_backend(%s)", kept[0])
            for _ in range(3):
                assert urllib.request.urlopen(url + "/report", timeout=30).status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_every_item_of_the_week_is_on_a_page_and_totals_are_exact(known_db, tmp_path,
                                                                   monkeypatch):
    """The queue shows the chosen week's meetings, newest first, a page at a time: every
    item is on some page (never hidden behind a cap), and every count the page, the
    terminal and the JSON show is the whole table's; the CSV holds the whole queue."""
    monkeypatch.setattr(reportdata, "REVIEW_PAGE_SIZE", 3)
    monkeypatch.setattr(reportdata, "FOLLOWUPS_SHOWN", 2)
    monkeypatch.setattr(reportdata, "GAPS_SHOWN", 2)
    week_ids, all_ids = queue_ids(known_db, "2026-11-16"), queue_ids(known_db)
    followups = fetchall(known_db, "select count(*) from reporting_private.rpt_followups")[0][0]
    gaps = fetchall(known_db, "select count(*) from reporting.reconciliation_gaps")[0][0]
    # the scenario is big enough for every cut to bite
    assert len(week_ids) > 3 and len(all_ids) > len(week_ids) and followups > 2 and gaps > 2

    open_week = queue_ids(known_db, "2026-11-16", open_only=True)
    data = reportdata.load_report(known_db, week=WEEK)
    assert data.review_open == len(open_week)
    assert data.review_pages == -(-len(week_ids) // 3)
    assert [i["review_item_id"] for i in data.review] == week_ids[:3]
    paged = [i["review_item_id"] for page in range(data.review_pages)
             for i in reportdata.load_report(known_db, week=WEEK, review_page=page).review]
    assert paged == week_ids  # each once, newest first
    # listed (open or saved since the last build), and the other weeks' meetings with a
    # slot, as the link to them says
    undated = set(queue_ids(known_db, undated=True))
    assert undated.isdisjoint(week_ids)
    assert data.review_listed == len(week_ids)
    assert data.review_other_weeks == len(all_ids) - len(week_ids) - len(undated) > 0
    every = reportdata.load_report(known_db, week=WEEK, review_week_only=False)
    assert every.review_open == len(queue_ids(known_db, open_only=True))
    assert every.review_listed == len(all_ids) and every.review_other_weeks == 0
    assert [i["review_item_id"] for i in every.review] == all_ids[:3]
    assert data.followups_total == followups and len(data.followups) == 2
    assert data.gaps_total == gaps and len(data.gaps) == 2

    doc = as_dict(data)
    assert doc["reconciliation_gaps"] == gaps and doc["followups_total"] == followups
    text = render(data, "text")
    assert f"Needs your answer: {len(open_week)} meetings (week {WEEK})" in text
    assert f"Follow up ({followups:,} recent no-shows and cancellations)" in text
    assert f"CRM and Cal.com disagree: {gaps} leads" in text

    with LiveServer(app_for(known_db, tmp_path)) as live:
        client = Client(live.url)
        page = client.request(f"/report?week={WEEK}")
        seen, address = [], f"/report?week={WEEK}"
        while address:
            listed = client.request(address)
            seen += re.findall(r'data-review="([^"]+)"', listed.text)
            after = re.search(r'href="([^"]+)" rel="next"', listed.text)
            address = after.group(1).replace("&amp;", "&") if after else None
        whole = client.request("/review.csv")
        week_csv = client.request(f"/review.csv?week={WEEK}")
        bad_week = client.request("/review.csv?week=W47")
    assert page.status == 200
    assert (f'id="review-count">({len(open_week)} meetings in week {WEEK})' in page.text)
    assert f'{len(open_week)} meetings need your answer</a>' in page.text  # at the top
    assert seen == week_ids
    assert f"({followups:,} recent no-shows and cancellations; the latest 2 below)" in page.text

    with psycopg.connect(known_db) as conn:
        zone = conn.execute("select report_timezone from reporting.feed_health").fetchone()[0]
        conn.execute("select set_config('TimeZone', %s, false)", (zone,))
        week_total = conn.execute(
            "select count(*) from reporting_private.review_queue"
            " where start_at >= cast(%s as date) and start_at < cast(%s as date) + 7",
            ("2026-11-16", "2026-11-16")).fetchone()[0]
    total = fetchall(known_db, "select count(*) from reporting_private.review_queue")[0][0]
    rows = list(csv.DictReader(io.StringIO(whole.text)))
    assert whole.status == 200 and whole.headers["Content-Type"].startswith("text/csv")
    assert len(rows) == total
    assert {r["review_item_id"] for r in rows} == {r[0] for r in fetchall(
        known_db, "select review_item_id from reporting_private.review_queue")}
    week_rows = list(csv.DictReader(io.StringIO(week_csv.text)))
    assert len(week_rows) == week_total
    assert bad_week.status == 400 and "ISO week like" in bad_week.text


def test_a_person_in_the_queue_and_the_disagreements_is_shown_once(known_db, tmp_path):
    both = fetchall(known_db, "select queue.lead_id, queue.review_item_id, crm.reason,"
                              " to_char(queue.start_at, 'IYYY-\"W\"IW')"
                              " from reporting_private.review_queue as queue"
                              " join reporting_private.review_queue as crm"
                              "   on crm.lead_id = queue.lead_id and crm.reason in"
                              "   ('crm_missing_booking', 'crm_stale_after_cancel',"
                              "    'calcom_missing_booking')"
                              " where queue.reason = any(%s) and queue.start_at is not null"
                              " order by queue.start_at desc", (list(ANSWER_ORDER),))
    listed_ids = set(queue_ids(known_db))
    both = [row for row in both if row[1] in listed_ids]
    assert both, "the scenario must have a person with both"
    lead, item, reason, week = both[0]
    first = reportdata.load_report(known_db, week=week)
    pages = [first] + [reportdata.load_report(known_db, week=week, review_page=n)
                       for n in range(1, first.review_pages)]
    data = next(d for d in pages if item in {i["review_item_id"] for i in d.review})
    listed = next(i for i in data.review if i["review_item_id"] == item)
    assert reason in listed["other_reasons"]
    assert lead not in {g["lead_id"] for g in data.named_gaps}
    with LiveServer(app_for(known_db, tmp_path)) as live:
        page = Client(live.url).request(
            f"/report?week={week}&page={pages.index(data) + 1}")
    row = re.search(rf'data-review="{re.escape(item)}"(.*?)</li>', page.text, re.S)
    assert row and "also: " in row.group(1)
    gaps = page.text.split('id="gaps"')[1]
    assert listed["contact_name"] not in gaps
    # a meeting the queue lists for two reasons (no outcome, no lead) is one item
    twice = fetchall(known_db, "select booking_id, min(review_item_id), max(review_item_id)"
                               " from reporting_private.review_queue where reason = any(%s)"
                               " group by booking_id having count(*) > 1",
                     (list(ANSWER_ORDER),))
    assert twice, "the scenario must have a meeting listed for two reasons"
    booking, one, other = twice[0]
    shown = [i for i in queue_ids(known_db) if i in (one, other)]
    assert len(shown) == 1
    week = fetchall(known_db, "select to_char(start_at, 'IYYY-\"W\"IW') from"
                              " reporting_private.review_queue where review_item_id = %s",
                    (shown[0],))[0][0]
    data = reportdata.load_report(known_db, week=week, review_week_only=True)
    pages = [data] + [reportdata.load_report(known_db, week=week, review_page=n)
                      for n in range(1, data.review_pages)]
    items = [i for d in pages for i in d.review if i["booking_id"] == booking]
    assert [i["review_item_id"] for i in items] == shown
    hidden_reason = (other if shown[0] == one else one).split(":")[0]
    assert hidden_reason in items[0]["other_reasons"]


def test_review_download_neutralizes_spreadsheet_formulas(known_db, tmp_path):
    """Names come from public booking forms: a name that starts like a formula is
    written as text (a leading apostrophe), never as a formula a spreadsheet would run."""
    formula = '=HYPERLINK("http://attacker.example","click")'
    with psycopg.connect(known_db) as conn:
        item, name = conn.execute("select review_item_id, contact_name"
                                  " from reporting_private.review_queue"
                                  " order by review_item_id limit 1").fetchone()
        conn.execute("update reporting_private.review_queue set contact_name = %s"
                     " where review_item_id = %s", (formula, item))
    try:
        with LiveServer(app_for(known_db, tmp_path)) as live:
            whole = Client(live.url).request("/review.csv")
    finally:
        with psycopg.connect(known_db) as conn:
            conn.execute("update reporting_private.review_queue set contact_name = %s"
                         " where review_item_id = %s", (name, item))
    row = next(r for r in csv.DictReader(io.StringIO(whole.text))
               if r["review_item_id"] == item)
    assert row["contact_name"] == "'" + formula


def queue_totals(data: reportdata.ReportData) -> tuple:
    return (data.review_listed, data.review_open, data.review_other_weeks,
            [item["review_item_id"] for item in data.review])


def test_marts_from_before_review_counts_still_show_exact_counts(known_db, tmp_path):
    """Between an upgrade and its first refresh the marts have no review_counts table,
    or one that does not count what the queue lists: the page counts the queue itself
    instead of going blank, to the same figures."""
    by_reason = dict(fetchall(known_db, "select reason, count(*) from"
                                        " reporting_private.review_queue group by reason"))
    week_now = reportdata.load_report(known_db, week=WEEK)
    every_now = reportdata.load_report(known_db, week=WEEK, review_week_only=False)
    older = []
    for change, undo in [
            ("rename column listed to listed_away", "rename column listed_away to listed"),
            ("rename to review_counts_away", None)]:
        with psycopg.connect(known_db) as conn:
            conn.execute("alter table reporting_private.review_counts " + change)
        try:
            older.append((reportdata.load_report(known_db, week=WEEK),
                          reportdata.load_report(known_db, week=WEEK, review_week_only=False)))
            if undo is None:
                with LiveServer(app_for(known_db, tmp_path)) as live:
                    page = Client(live.url).request(f"/report?week={WEEK}")
        finally:
            with psycopg.connect(known_db) as conn:
                conn.execute("alter table reporting_private."
                             + (f"review_counts {undo}" if undo
                                else "review_counts_away rename to review_counts"))
    for week_data, data in older:
        assert queue_totals(week_data) == queue_totals(week_now)
        assert queue_totals(data) == queue_totals(every_now)
    week_data, data = older[-1]
    assert data.review_counts == by_reason
    assert data.row is not None and data.host_names  # the rest of the page is there
    assert week_data.review_counts == week_now.review_counts
    assert 0 < week_data.review_total < data.review_total
    assert page.status == 200 and 'id="review-queue"' in page.text


def test_review_counts_count_each_meeting_once_under_its_first_reason(known_db):
    """review_counts.listed, what the page's totals read, counts the queue as the page
    lists it: a meeting held for two reasons once, under the first of ANSWER_ORDER (an
    order written in SQL, macro answer_rank, and in report/data.py)."""
    listed = dict(fetchall(known_db, "select reason, sum(listed) from"
                                     " reporting_private.review_counts group by reason"))
    by_reason: dict[str, int] = {}
    for item in queue_ids(known_db):
        reason = item.split(":", 1)[0]
        by_reason[reason] = by_reason.get(reason, 0) + 1
    assert {r: n for r, n in listed.items() if n} == by_reason
    # the scenario holds meetings the queue has for two reasons, so the order counts
    assert fetchall(known_db, "select count(*) from (select booking_id"
                              " from reporting_private.review_queue where reason = any(%s)"
                              " group by booking_id having count(*) > 1) as twice",
                    (list(ANSWER_ORDER),))[0][0] > 0
    assert reportdata.ANSWER_REASONS == ANSWER_ORDER
