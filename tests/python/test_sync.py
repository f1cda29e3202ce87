"""Repairing what webhooks missed: the Cal.com API v2 sync against a local stand-in
that serves the scenario's truth in both documented API versions.

The oracle extended: with a share of webhooks lost on purpose (creations,
cancellations, rejections, no-show marks) and the sync run, every mart number equals
the truth again; without the sync, the loss is detected as before.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from helpers import LiveServer, cli, create_database, drop_database, fetchall
from oracle import mismatches
from reportkit import Client

from booking_report.demo.landing import load_crm, load_manual_outcomes, store_bodies
from booking_report.demo.oracle import has_delivered_creation, webhook_state
from booking_report.demo.scenario import generate
from booking_report.demo.standin import StandinServer, create_standin
from booking_report.refresh import refresh
from booking_report.server import create_server_app
from ingest.calcom_api import ApiKeyRefused, CalcomApi, MalformedPage, UnsupportedVersion
from ingest.calcom_sync import TRIGGERS_SEED, SyncFailed, lifecycle_triggers, sync
from ingest.db import init_db

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KEY = "cal_live_test_0123456789abcdef"
VERSIONS = ["2026-05-01", "2024-08-13"]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def no_sleep(seconds: float) -> None:
    no_sleep.waited.append(seconds)


no_sleep.waited = []


def api_for(url: str, version: str, **kwargs) -> CalcomApi:
    return CalcomApi(url, KEY, version, sleep=no_sleep, **kwargs)


def build(dsn, sc, target_dir, *, synced: bool, bodies=None):
    init_db(dsn)
    store_bodies(dsn, sc.bodies if bodies is None else bodies)
    load_crm(dsn, sc)
    load_manual_outcomes(dsn, sc)
    outcome = refresh(dsn, as_of=AS_OF.isoformat(), unit_tests=False,
                      variables={"report_timezone": sc.report_timezone,
                                 "api_sync_configured": synced},
                      target_dir=target_dir / sc.report_timezone.replace("/", "_"))
    assert outcome.build.success, outcome.build.failures
    return outcome


@pytest.mark.parametrize("seed,version,timezone", [
    (41, "2026-05-01", "UTC"), (42, "2024-08-13", "UTC"), (47, "2026-05-01", "Europe/Berlin"),
    (44, "2024-08-13", "America/New_York")])
@pytest.mark.slow
def test_after_the_sync_the_marts_equal_the_truth_again(seed, version, timezone, target_dir):
    sc = generate(seed, as_of=AS_OF, leads=300, report_timezone=timezone, lossy=0.3)
    truth = sc.expected(synced=True)
    assert sum(b["recovered"] for b in truth["bookings"].values()) >= 20, \
        "the scenario must lose enough webhooks for the comparison to prove something"
    assert any(b["outcome_source"] == "calcom_api" for b in truth["bookings"].values())
    dsn = create_database("brsync")
    try:
        init_db(dsn)
        store_bodies(dsn, sc.bodies)  # the webhooks that did arrive, then the sync
        with StandinServer(create_standin(sc.api_bookings, api_key=KEY)) as standin:
            summary = sync(dsn, api_for(standin.url, version), now=lambda: AS_OF)
        assert summary.mode == "backfill"
        assert summary.new_snapshots == len(sc.api_bookings())
        # the sync's own count, per Cal.com booking: uids no creation webhook named, and
        # current bookings whose state their webhooks got wrong (a seated booking stays
        # accepted whatever its seats do; a session never empties here)
        plain = [chain for chain in sc.chains if chain.session is None]
        revealed = sum(1 for chain in plain for uid in chain.uids
                       if not has_delivered_creation(chain, uid)) + sum(
            1 for session in sc.sessions
            if not any(has_delivered_creation(seat, seat.root_uid) for seat in session.seats))
        changed = sum(1 for chain in plain
                      if has_delivered_creation(chain, chain.uids[-1])
                      and webhook_state(chain, chain.uids[-1]) != chain.state)
        assert (summary.revealed_bookings, summary.revealed_changes) == (revealed, changed)
        assert revealed > 0 and changed > 0
        assert summary.pages >= 2  # pagination crossed pages
        build(dsn, sc, target_dir, synced=True, bodies=[])
        problems = mismatches(dsn, truth)
        assert problems == [], "\n".join(problems[:30])
        recovered = fetchall(dsn, "select recovered_bookings_28d + recovered_changes_28d,"
                                  " webhook_loss_share, api_sync_status"
                                  " from reporting.feed_health")[0]
        assert recovered[0] > 0 and recovered[1] > 0 and recovered[2] == "ok"
    finally:
        drop_database(dsn)


@pytest.mark.slow
def test_without_the_sync_the_loss_is_detected(target_dir):
    sc = generate(41, as_of=AS_OF, leads=300, lossy=0.3)
    dsn = create_database("brsync")
    try:
        build(dsn, sc, target_dir, synced=False)
        status, share, sync_status = fetchall(
            dsn, "select status, missing_booking_share, api_sync_status"
                 " from reporting.feed_health")[0]
        assert status == "degraded" and share > 0.2 and sync_status == "not_configured"
        assert fetchall(dsn, "select count(*) from reporting.fct_bookings"
                             " where recovered_from_api")[0][0] == 0
        assert mismatches(dsn, sc.expected(synced=True)) != []
    finally:
        drop_database(dsn)


@pytest.mark.slow
def test_arrival_order_of_webhooks_and_snapshots_changes_nothing(target_dir):
    """A webhook landed after the snapshot, or before: the same marts."""
    sc = generate(45, as_of=AS_OF, leads=150, lossy=0.3)
    first, second = create_database("brsync"), create_database("brsync")
    try:
        for dsn, webhooks_first in ((first, True), (second, False)):
            init_db(dsn)
            if webhooks_first:
                store_bodies(dsn, sc.bodies)
            with StandinServer(create_standin(sc.api_bookings, api_key=KEY)) as standin:
                sync(dsn, api_for(standin.url, "2026-05-01"), now=lambda: AS_OF)
            build(dsn, sc, target_dir, synced=True, bodies=[] if webhooks_first else None)
        query = "select * from reporting.fct_bookings order by booking_id"
        assert fetchall(first, query) == fetchall(second, query)
    finally:
        drop_database(first)
        drop_database(second)


# ------------------------------------------------------------------ faults and re-runs


def snapshot_count(dsn: str) -> int:
    return fetchall(dsn, "select count(*) from raw.calcom_api_bookings")[0][0]


def runs(dsn: str) -> list[tuple]:
    return fetchall(dsn, "select status, high_water_updated_at, error from"
                         " raw.calcom_api_sync_runs order by sync_run_id")


@pytest.fixture
def synced_setup(raw_db):
    sc = generate(46, as_of=AS_OF, leads=250)
    app = create_standin(sc.api_bookings, api_key=KEY)
    with StandinServer(app) as standin:
        yield raw_db, sc, app, standin


@pytest.mark.parametrize("version", VERSIONS)
def test_429_is_waited_out_and_the_run_continues(synced_setup, version):
    dsn, sc, app, standin = synced_setup
    no_sleep.waited.clear()
    app.config["faults"] = [("status", 429)]
    summary = sync(dsn, api_for(standin.url, version), now=lambda: AS_OF)
    assert 1.0 in no_sleep.waited  # Retry-After: 1
    assert summary.new_snapshots == len(sc.api_bookings())
    assert [r[0] for r in runs(dsn)] == ["succeeded"]


def test_a_sync_paces_itself_and_goes_through_cal_coms_block(raw_db):
    """Cal.com's throttler, shrunk: 3 requests per 1 s window, then a 1 s block, a 429
    with no Retry-After. The client paces from the -Default headers; when another tool
    has used up the key, it waits the block out (one line saying so) and finishes."""
    from booking_report.demo.standin import Throttle
    sc = generate(52, as_of=AS_OF, leads=400)
    truth = sc.api_bookings()
    app = create_standin(lambda: truth, api_key=KEY)
    app.config["throttle"] = throttle = Throttle(limit=3, window=1.0, block=1.0)
    lines: list[str] = []
    with StandinServer(app) as standin:
        paced = CalcomApi(standin.url, KEY, "2026-05-01", say=lines.append)
        first = sync(raw_db, paced, now=lambda: AS_OF)
        assert first.pages >= 6 and paced.requests == first.pages  # no request lost
        assert throttle.blocks == 0, "pacing from Remaining never runs into the block"
        assert paced.rate_waits and all(0 < w <= 1 for w in paced.rate_waits)
        # another tool uses the same key up: the next request meets the block
        for _ in range(4):
            throttle.take()
        assert throttle.blocks == 1
        blocked = CalcomApi(standin.url, KEY, "2026-05-01", say=lines.append)
        second = sync(raw_db, blocked, full=True, now=lambda: AS_OF)
    assert second.new_snapshots == 0 and second.pages >= 3
    assert [r[0] for r in runs(raw_db)] == ["succeeded", "succeeded"]
    assert snapshot_count(raw_db) == len(truth)
    waits = [line for line in lines if "429 Too Many Requests" in line]
    assert len(waits) == 1 and "waiting 1 s, then going on" in waits[0]
    assert any("no request left in this window" in line for line in lines)


def test_a_cal_diy_that_does_not_know_the_version_gets_the_setting_to_use(raw_db):
    sc = generate(53, as_of=AS_OF, leads=40)
    app = create_standin(sc.api_bookings, api_key=KEY)
    with StandinServer(app) as standin:
        app.config["faults"] = [("v2024_04_15", None)]
        with pytest.raises(SyncFailed) as failure:
            sync(raw_db, api_for(standin.url, "2026-05-01"), now=lambda: AS_OF)
        app.config["faults"] = [("v2024_04_15", None)]
        line = cli(raw_db, "sync-calcom", CALCOM_API_URL=standin.url, CALCOM_API_KEY=KEY)
    assert isinstance(failure.value.__cause__, UnsupportedVersion)
    assert "CALCOM_API_VERSION=2024-08-13" in str(failure.value)
    assert line.returncode == 1 and "Traceback" not in line.stderr
    assert "set CALCOM_API_VERSION=2024-08-13" in line.stderr
    assert [r[0] for r in runs(raw_db)] == ["failed", "failed"]


def test_the_slot_time_pass_reads_a_no_show_mark_that_updated_at_hides(raw_db):
    """Marking an attendee absent writes the attendee row, not the booking: Cal.com's
    updatedAt stays where it was. The next incremental run still reads the mark."""
    sc = generate(54, as_of=AS_OF, leads=200)
    truth = sc.api_bookings()
    app = create_standin(lambda: truth, api_key=KEY)
    with StandinServer(app) as standin:
        sync(raw_db, api_for(standin.url, "2024-08-13"), now=lambda: AS_OF)
        later = AS_OF + timedelta(hours=2)
        met = next(b for b in truth if b["status"] == "accepted"
                   and _when(b["end"]) < AS_OF - timedelta(hours=1)
                   and _when(b["start"]) > AS_OF - timedelta(days=10)
                   and not b["attendees"][0]["absent"])
        stamp = met["updatedAt"]
        met["attendees"][0]["absent"] = True  # the host marks the guest; updatedAt unchanged
        # without the slot-time pass, the incremental run does not see it
        unread = sync(raw_db, api_for(standin.url, "2024-08-13"), now=lambda: later,
                      recent_days=0)
        second = sync(raw_db, api_for(standin.url, "2024-08-13"),
                      now=lambda: later + timedelta(minutes=5))
    assert met["updatedAt"] == stamp
    assert second.mode == "incremental" and second.new_snapshots == 1
    assert unread.new_snapshots == 0
    rows = fetchall(raw_db, "select payload->'attendees'->0->>'absent' from"
                            " raw.calcom_api_bookings where booking_uid = %s"
                            " order by snapshot_id", (met["uid"],))
    assert [r[0] for r in rows] == ["false", "true"]


@pytest.mark.parametrize("fault", [("status", 503), ("malformed", None)])
def test_a_failed_page_fails_the_run_without_moving_anything_and_a_rerun_is_harmless(
        synced_setup, fault):
    dsn, sc, app, standin = synced_setup
    api = api_for(standin.url, "2026-05-01", max_retries=1)
    first = sync(dsn, api, now=lambda: AS_OF)
    landed = snapshot_count(dsn)
    assert landed == len(sc.api_bookings())
    marks = runs(dsn)[0][1]
    # a second run that fails on its second page (503 twice with one retry allowed, or
    # an HTML page): the first page is landed (one transaction a page), the marks stay
    # where they were, the error is recorded
    app.config["faults"] = [("ok", None), fault, fault]
    with pytest.raises(SyncFailed) as failure:
        sync(dsn, api_for(standin.url, "2026-05-01", max_retries=1), full=True,
             now=lambda: AS_OF + timedelta(hours=1))
    app.config["faults"] = []
    assert ("503" in str(failure.value)) if fault[0] == "status" else isinstance(
        failure.value.__cause__, MalformedPage)
    status, high_water, error = runs(dsn)[-1]
    assert status == "failed" and high_water is None and error
    assert snapshot_count(dsn) == landed  # same bodies: nothing new, nothing half-landed
    again = sync(dsn, api_for(standin.url, "2026-05-01"), full=True,
                 now=lambda: AS_OF + timedelta(hours=2))
    assert again.new_snapshots == 0 and snapshot_count(dsn) == landed
    assert runs(dsn)[-1][0] == "succeeded" and first.high_water_updated_at == marks


def test_the_incremental_run_reads_only_what_changed(raw_db):
    sc = generate(47, as_of=AS_OF, leads=200)
    truth = sc.api_bookings()
    app = create_standin(lambda: truth, api_key=KEY)
    with StandinServer(app) as standin:
        first = sync(raw_db, api_for(standin.url, "2024-08-13"), now=lambda: AS_OF)
        assert first.mode == "backfill" and first.new_snapshots == len(truth)
        # one booking is cancelled afterwards in Cal.com
        changed = next(b for b in truth if b["status"] == "accepted"
                       and "rescheduledToUid" not in b)
        later = AS_OF + timedelta(hours=3)
        changed.update(status="cancelled", cancellationReason="Changed plans",
                       updatedAt=later.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        app.config["requests"].clear()
        second = sync(raw_db, api_for(standin.url, "2024-08-13"),
                      now=lambda: later + timedelta(minutes=5))
    assert second.mode == "incremental"
    assert second.new_snapshots == 1
    # the changed booking, the overlap hour, and the recent meetings by slot time
    now = later + timedelta(minutes=5)
    recent = [b for b in truth if now - timedelta(days=14) <= _when(b["start"])
              and _when(b["end"]) <= now]
    assert 0 < len(recent) < len(truth) / 3
    assert len(recent) <= second.bookings_seen <= len(recent) + 10
    params = app.config["requests"]
    assert any("afterUpdatedAt" in p for p in params)
    assert any("afterCreatedAt" in p for p in params)
    assert any("afterStart" in p and "beforeEnd" in p for p in params)
    assert all(p["version"] == "2024-08-13" and int(p["take"]) == 250 for p in params)
    rows = fetchall(raw_db, "select payload->>'status' from raw.calcom_api_bookings"
                            " where booking_uid = %s order by snapshot_id", (changed["uid"],))
    assert [r[0] for r in rows] == ["accepted", "cancelled"]


def test_cursor_pagination_uses_limit_100_and_the_cursor(raw_db):
    sc = generate(48, as_of=AS_OF, leads=400)
    app = create_standin(sc.api_bookings, api_key=KEY)
    with StandinServer(app) as standin:
        summary = sync(raw_db, api_for(standin.url, "2026-05-01"), full=True,
                       now=lambda: AS_OF)
    requests = app.config["requests"]
    assert summary.pages == len(requests) >= 3
    assert all(int(r["limit"]) == 100 for r in requests)
    assert "cursor" not in requests[0] and all("cursor" in r for r in requests[1:])


# ------------------------------------------------------------------ configuration and secrets


def test_a_refused_key_and_a_wrong_version_get_one_clear_line(raw_db):
    sc = generate(49, as_of=AS_OF, leads=60)
    with StandinServer(create_standin(sc.api_bookings, api_key=KEY)) as standin:
        with pytest.raises(SyncFailed, match="Settings → Developer → API keys") as refused_run:
            sync(raw_db, CalcomApi(standin.url, "wrong-key", "2026-05-01"))
        assert isinstance(refused_run.value.__cause__, ApiKeyRefused)
        refused = cli(raw_db, "sync-calcom", CALCOM_API_URL=standin.url,
                      CALCOM_API_KEY="wrong-key")
        wrong = cli(raw_db, "sync-calcom", CALCOM_API_URL=standin.url, CALCOM_API_KEY=KEY,
                    CALCOM_API_VERSION="2025-01-01")
    assert refused.returncode == 1 and "refused the API key" in refused.stderr
    assert "Traceback" not in refused.stderr and "wrong-key" not in refused.stderr
    assert wrong.returncode == 2 and "2026-05-01, 2024-08-13" in wrong.stderr
    with pytest.raises(UnsupportedVersion):
        CalcomApi("http://x", KEY, "v3")
    assert runs(raw_db)[-1][0] == "failed"


@pytest.mark.slow
def test_refresh_syncs_first_and_a_failed_sync_is_only_a_warning(raw_db, tmp_path, caplog):
    sc = generate(50, as_of=AS_OF, leads=120, lossy=0.3)
    store_bodies(raw_db, sc.bodies)
    load_crm(raw_db, sc)
    env = {"BOOKING_REPORT_DATA_DIR": str(tmp_path)}
    with StandinServer(create_standin(sc.api_bookings, api_key=KEY)) as standin:
        ok = cli(raw_db, "refresh", "--as-of", AS_OF.isoformat(),
                 CALCOM_API_URL=standin.url, CALCOM_API_KEY=KEY, **env)
        skipped = cli(raw_db, "refresh", "--no-sync", CALCOM_API_URL=standin.url,
                      CALCOM_API_KEY=KEY, **env)
        # "Refresh now"'s rule: no sync when one succeeded less than 10 minutes ago
        before = len(runs(raw_db))
        recent = cli(raw_db, "refresh", "--sync-if-older", "10", "--only-changed",
                     CALCOM_API_URL=standin.url, CALCOM_API_KEY=KEY, **env)
        assert recent.returncode == 0, recent.stderr
        assert re.search(r"Cal.com sync skipped: the last one finished at \d\d:\d\d UTC,"
                         r" less than 10 minutes ago", recent.stdout), recent.stdout
        assert len(runs(raw_db)) == before
        with psycopg.connect(raw_db) as conn:  # 11 minutes later, it syncs again
            conn.execute("update raw.calcom_api_sync_runs"
                         " set finished_at = finished_at - interval '11 minutes'")
        failed = cli(raw_db, "refresh", "--sync-if-older", "10", CALCOM_API_URL=standin.url,
                     CALCOM_API_KEY="nope", **env)
        assert len(runs(raw_db)) == before + 1  # it tried (and failed: a refused key)
    assert ok.returncode == 0, ok.stderr
    assert "Cal.com sync (backfill, API 2026-05-01)" in ok.stdout
    assert re.search(r"Recovered from Cal.com: \d+ bookings? and \d+ changes? that webhooks "
                     r"missed", ok.stdout), ok.stdout
    report = cli(raw_db, "report", **env)
    assert "Recovered from Cal.com:" in report.stdout
    app = create_server_app({"DATABASE_URL": raw_db, "CALCOM_WEBHOOK_SECRETS": ["s"],
                             "SPOOL_DIR": str(tmp_path / "spool"), "DATA_DIR": str(tmp_path)})
    with LiveServer(app) as live:
        page = Client(live.url).request("/report")
    assert 'id="recovered"' in page.text and "Recovered from Cal.com:" in page.text
    assert skipped.returncode == 0 and "Cal.com sync" not in skipped.stdout
    assert failed.returncode == 0 and "warning: the Cal.com sync failed" in failed.stderr
    # the key reached neither the database nor any output
    for text in (ok.stdout, ok.stderr, failed.stdout, failed.stderr):
        assert KEY not in text
    with psycopg.connect(raw_db) as conn:
        dump = json.dumps(conn.execute(
            "select array_agg(t::text) from raw.calcom_api_sync_runs t").fetchone()[0])
        dump += json.dumps(conn.execute(
            "select array_agg(convert_from(raw_body, 'UTF8')) from raw.calcom_api_bookings"
        ).fetchone()[0])
    assert KEY not in dump


def test_the_key_is_not_logged(raw_db, caplog):
    sc = generate(51, as_of=AS_OF, leads=60)
    app = create_standin(sc.api_bookings, api_key=KEY)
    app.config["faults"] = [("status", 429), ("status", 500)]
    caplog.set_level(logging.DEBUG)
    with StandinServer(app) as standin:
        sync(raw_db, api_for(standin.url, "2026-05-01"), now=lambda: AS_OF)
    assert caplog.records and KEY not in caplog.text


def test_the_sync_reads_the_trigger_vocabulary_the_models_read(tmp_path):
    """One vocabulary: the sync's lifecycle states come from seeds/calcom_triggers.csv,
    the seed the models join, so a trigger added there is known to both."""
    vocabulary = lifecycle_triggers()
    assert dict(zip(vocabulary["triggers"], vocabulary["states"], strict=True)) == {
        "BOOKING_REQUESTED": "pending", "BOOKING_PAYMENT_INITIATED": "pending",
        "BOOKING_CREATED": "accepted", "BOOKING_PAID": "accepted",
        "BOOKING_RESCHEDULED": "accepted", "BOOKING_CANCELLED": "cancelled",
        "BOOKING_REJECTED": "rejected"}
    created = {t for t, c in zip(vocabulary["triggers"], vocabulary["creations"], strict=True)
               if c}
    assert created == {"BOOKING_REQUESTED", "BOOKING_PAYMENT_INITIATED", "BOOKING_CREATED",
                       "BOOKING_RESCHEDULED"}
    # a trigger added to the seed is the sync's too
    grown = tmp_path / "calcom_triggers.csv"
    grown.write_text(TRIGGERS_SEED.read_text()
                     + "BOOKING_SOMETHING_NEW,2,accepted,true,false,false\n")
    assert "BOOKING_SOMETHING_NEW" in lifecycle_triggers(grown)["triggers"]
    empty = tmp_path / "empty.csv"
    empty.write_text(TRIGGERS_SEED.read_text().splitlines()[0] + "\n")
    with pytest.raises(ValueError, match="no lifecycle trigger"):
        lifecycle_triggers(empty)
