"""Cal.com as its own code behaves: bodies written from Cal.com's source (each fixture
in tests/fixtures/calcom/shapes names the files it follows), signed as Cal.com signs,
POSTed to the real receiver, loaded with a CRM export, refreshed by dbt; then the
Cal.com API (the stand-in, serving the fixture's API objects) synced twice and
refreshed again. One module-scoped build; each test reads one row of the story.

The rows (docs/metrics.md, "Seats, payments, series"; docs/decisions/booking-state.md, "Real
Cal.com"): a seat's cancellation cancels that seat only; a paid or confirmed booking
keeps the lead id of its first statement; a chain survives a lost middle reschedule
with rootBookingUid, and a confirmed reschedule links by it; "cancel all remaining" of
a series leaves the silent occurrences unconfirmed, not upcoming; Cal Video's
no-shows; a host's own absence and a lost guest mark arrive with the sync.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from helpers import FIXTURES, LiveServer, cli, create_database, drop_database, fetchall

from booking_report.demo.landing import post_bodies
from booking_report.demo.standin import StandinServer, create_standin
from booking_report.refresh import refresh
from booking_report.server import create_server_app
from ingest.calcom_api import CalcomApi
from ingest.calcom_sync import sync
from ingest.db import init_db

# two dbt builds and two syncs in the module's fixture (once per worker)
pytestmark = pytest.mark.slow

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FIRST_SYNC = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SECRET = "shapes-secret"
KEY = "cal_live_shapes_0123456789"
CASES = {path.stem: json.loads(path.read_text())
         for path in sorted((FIXTURES / "shapes").glob("*.json"))}
COLUMNS = ("booking_id", "current_booking_uid", "calcom_booking_uid", "is_seat", "lead_id",
           "lead_match_method", "booked_at", "reschedule_count", "has_incomplete_history",
           "booking_state", "outcome", "outcome_source", "recovered_from_api")


def bookings(dsn: str) -> dict[str, dict]:
    rows = fetchall(dsn, f"select {', '.join(COLUMNS)} from reporting.fct_bookings")
    return {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in rows}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    dsn = create_database("brshapes")
    tmp = tmp_path_factory.mktemp("shapes")
    try:
        init_db(dsn)
        deliveries = [json.dumps(body).encode() for case in CASES.values()
                      for body in case["deliveries"]]
        app = create_server_app({"DATABASE_URL": dsn, "CALCOM_WEBHOOK_SECRETS": [SECRET],
                                 "SPOOL_DIR": str(tmp / "spool"), "DATA_DIR": str(tmp)})
        with LiveServer(app) as live:
            answers = post_bodies(live.url, SECRET, deliveries, threads=1)
        leads = [lead for case in CASES.values() for lead in case["leads"]]
        export = io.StringIO()
        writer = csv.DictWriter(export, fieldnames=["lead_id", "created_at", "email", "name",
                                                    "source", "status", "booking_status"])
        writer.writeheader()
        writer.writerows({**lead, "status": "New", "booking_status": ""} for lead in leads)
        (tmp / "crm.csv").write_text(export.getvalue())
        loaded = cli(dsn, "load-crm", str(tmp / "crm.csv"))
        assert loaded.returncode == 0, loaded.stderr
        target = tmp / "target"
        first = refresh(dsn, as_of=AS_OF.isoformat(), unit_tests=False, target_dir=target)
        assert first.build.success, first.build.failures
        webhooks = bookings(dsn)
        problems = fetchall(dsn, "select problem, booking_uid from reporting.feed_problems")
        # the Cal.com API: a first sync the day before; then the host marks Lina absent
        # (her booking's updatedAt does not move) and the webhook is lost; a second sync
        api = [obj for case in CASES.values() for obj in case["api"]]
        with StandinServer(create_standin(lambda: api, api_key=KEY)) as standin:
            backfill = sync(dsn, CalcomApi(standin.url, KEY, "2024-08-13"),
                            now=lambda: FIRST_SYNC)
            lina = next(obj for obj in api if obj["uid"] == "lostmark-bk-001")
            lina["attendees"][0]["absent"] = True
            incremental = sync(dsn, CalcomApi(standin.url, KEY, "2024-08-13"),
                               now=lambda: AS_OF)
        second = refresh(dsn, as_of=AS_OF.isoformat(), unit_tests=False, target_dir=target,
                         variables={"api_sync_configured": True})
        assert second.build.success, second.build.failures
        yield {"answers": answers, "deliveries": len(deliveries), "webhooks": webhooks,
               "problems": problems, "synced": bookings(dsn), "dsn": dsn,
               "syncs": (backfill, incremental)}
    finally:
        drop_database(dsn)


def test_every_body_written_from_cal_coms_source_is_accepted(story):
    assert story["answers"] == {200: story["deliveries"]}
    assert fetchall(story["dsn"], "select count(*) from reporting.feed_problems"
                                  " where problem_source = 'webhook' and event_id is not null"
                    ) == [(0,)]


def test_a_seat_cancelled_is_that_seat_only(story):
    seats = {b["lead_id"]: b for b in story["webhooks"].values()
             if b["calcom_booking_uid"] == "seat-bk-001"}
    assert set(seats) == {"L-ANA", "L-BEN", "L-CARA"}, "one booking per seat, each its lead"
    assert all(b["is_seat"] and b["lead_match_method"] == "metadata" for b in seats.values())
    assert seats["L-BEN"]["outcome"] == "cancelled"
    # the booking stays: Ana's meeting happened without her (the host's mark)
    assert (seats["L-ANA"]["outcome"], seats["L-ANA"]["outcome_source"]) == ("no_show",
                                                                             "calcom")
    # Cara's cancellation never arrived: her seat waits for an outcome
    assert seats["L-CARA"]["outcome"] == "needs_review"
    assert seats["L-BEN"]["booked_at"] == at("2026-11-11T10:00:00Z")
    assert seats["L-CARA"]["booked_at"] == at("2026-11-12T11:00:00Z")
    # the API lists only Ana: Cara has left; Ben stays cancelled, Ana absent
    synced = {b["lead_id"]: b for b in story["synced"].values()
              if b["calcom_booking_uid"] == "seat-bk-001"}
    assert {lead: b["outcome"] for lead, b in synced.items()} == {
        "L-ANA": "no_show", "L-BEN": "cancelled", "L-CARA": "cancelled"}
    assert synced["L-CARA"]["recovered_from_api"] is True
    assert synced["L-CARA"]["booked_at"] == at("2026-11-12T11:00:00Z")


def test_a_paid_booking_keeps_its_lead_and_an_unpaid_one_stays_pending(story):
    paid = story["webhooks"]["paid-bk-001"]
    assert (paid["lead_id"], paid["lead_match_method"]) == ("L-PAY", "metadata")
    assert paid["booked_at"] == at("2026-11-16T09:00:00Z")  # when the lead booked
    assert (paid["booking_state"], paid["outcome"]) == ("accepted", "upcoming")
    unpaid = story["webhooks"]["paid-bk-002"]
    assert (unpaid["lead_id"], unpaid["booking_state"], unpaid["outcome"]) == (
        "L-UNPAID", "pending", "pending")


def test_a_confirmed_booking_keeps_its_lead_and_a_confirmed_reschedule_links_by_its_root(
        story):
    rc = story["webhooks"]["rc-bk-001"]
    assert (rc["lead_id"], rc["lead_match_method"]) == ("L-RC", "metadata")
    assert (rc["current_booking_uid"], rc["reschedule_count"]) == ("rc-bk-002", 1)
    assert "rc-bk-002" not in story["webhooks"]
    # an older Cal.com names nothing: two bookings until the sync links them
    assert {"rc-old-001", "rc-old-002"} <= set(story["webhooks"])
    old = story["synced"]["rc-old-001"]
    assert "rc-old-002" not in story["synced"]
    assert (old["current_booking_uid"], old["reschedule_count"], old["outcome"]) == (
        "rc-old-002", 1, "upcoming")


def test_a_lost_middle_reschedule_keeps_the_chain_whole(story):
    chain = story["webhooks"]["root-bk-A"]
    assert (chain["current_booking_uid"], chain["reschedule_count"]) == ("root-bk-C", 2)
    assert chain["has_incomplete_history"] is True  # root-bk-B: never told of
    assert chain["outcome"] == "upcoming" and chain["lead_id"] == "L-ROOT"
    assert not {"root-bk-B", "root-bk-C"} & set(story["webhooks"])


def test_cancel_all_remaining_leaves_the_silent_occurrence_unconfirmed(story):
    occurrences = {uid: story["webhooks"][uid] for uid in
                   ("rec-bk-001", "rec-bk-002", "rec-bk-003", "rec-bk-004")}
    assert [o["outcome"] for o in occurrences.values()] == [
        "needs_review", "needs_review", "cancelled", "pending"]
    assert occurrences["rec-bk-004"]["outcome_source"] == "series_cancel"
    assert ("unconfirmed_series_cancel", "rec-bk-004") in story["problems"]
    assert [p for p in story["problems"] if p[0] == "unconfirmed_series_cancel"] == [
        ("unconfirmed_series_cancel", "rec-bk-004")]
    # the sync says what became of it
    synced = story["synced"]["rec-bk-004"]
    assert (synced["outcome"], synced["outcome_source"], synced["recovered_from_api"]) == (
        "cancelled", "lifecycle", True)


def test_cal_video_no_shows_and_what_only_the_sync_can_see(story):
    webhooks, synced = story["webhooks"], story["synced"]
    assert (webhooks["video-bk-host"]["outcome"],
            webhooks["video-bk-host"]["outcome_source"]) == ("host_no_show", "cal_video")
    assert (webhooks["video-bk-guest"]["outcome"],
            webhooks["video-bk-guest"]["outcome_source"]) == ("no_show", "cal_video")
    # the host marked themselves absent: no webhook; the API's absentHost
    assert webhooks["hostmark-bk-001"]["outcome"] == "needs_review"
    assert (synced["hostmark-bk-001"]["outcome"],
            synced["hostmark-bk-001"]["outcome_source"]) == ("host_no_show", "calcom_api")
    # a lost mark with an unchanged updatedAt: read by the second sync's slot-time pass
    backfill, incremental = story["syncs"]
    assert (backfill.mode, incremental.mode) == ("backfill", "incremental")
    assert incremental.new_snapshots == 1
    assert (synced["lostmark-bk-001"]["outcome"],
            synced["lostmark-bk-001"]["outcome_source"]) == ("no_show", "calcom_api")
