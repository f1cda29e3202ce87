"""Bad data never stops a refresh and never vanishes (docs/design.md, "Bad data").

End to end: a built database, then poisoned but correctly signed deliveries through
the real receiver; the next refresh must succeed, list every problem in
reporting.feed_problems, keep the rest of the numbers, and say so in its summary, on
the page and in the terminal. Unsigned junk must not switch the report to fallback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from helpers import REPO, LiveServer, create_database, drop_database, fetchall
from httpclient import post_webhook
from reportkit import Client

from booking_report.demo.landing import load_crm, store_bodies
from booking_report.demo.scenario import generate
from booking_report.refresh import print_summary, refresh
from booking_report.server import create_server_app
from booking_report.transform import run_dbt
from ingest.db import init_db

# one module fixture (built once) serves every test here: one worker runs them
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bad_data")]

SECRET = "bad-data-secret"
NOW = datetime.now(UTC).replace(microsecond=0)


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def body(trigger: str, payload: dict, created: str | None = None) -> bytes:
    doc = {"triggerEvent": trigger, "payload": payload}
    if created is not None:
        doc["createdAt"] = created
    return json.dumps(doc).encode()


def booking(uid: str | None, start: str, end: str, **extra) -> dict:
    payload = {"type": "intro-call", "startTime": start, "endTime": end, "status": "ACCEPTED",
               "attendees": [{"email": f"{uid or 'x'}@poison.example", "name": "P"}],
               "metadata": {}, **extra}
    if uid is not None:
        payload["uid"] = uid
    return payload


SENT = iso(NOW - timedelta(hours=3))
START = iso(NOW + timedelta(days=2))
END = iso(NOW + timedelta(days=2, minutes=30))

# (what it is, body, the problem it must be listed as, its booking uid)
POISON = [
    ("impossible date", body("BOOKING_CREATED", booking("p-feb30", "2026-02-30T10:00:00Z", END),
                             SENT), "unreadable_timestamp", "p-feb30"),
    ("hour 25", body("BOOKING_CREATED", booking("p-h25", "2026-11-20T25:00:00Z", END), SENT),
     "unreadable_timestamp", "p-h25"),
    ("year 0000", body("BOOKING_CREATED", booking("p-y0", "0000-01-01T10:00:00Z", END), SENT),
     "unreadable_timestamp", "p-y0"),
    ("offset +25:00", body("BOOKING_CREATED", booking("p-off", "2026-11-20T10:00:00+25:00", END),
                           SENT), "unreadable_timestamp", "p-off"),
    ("month 13 createdAt", body("BOOKING_CREATED", booking("p-m13", START, END),
                                "2026-13-01T10:00:00Z"), "unreadable_timestamp", "p-m13"),
    ("no uid", body("BOOKING_CANCELLED", booking(None, START, END), SENT),
     "missing_booking_uid", None),
    ("empty uid", body("BOOKING_CREATED", booking("  ", START, END), SENT),
     "missing_booking_uid", None),
    ("ends before it starts", body("BOOKING_CREATED", booking("p-back", END, START), SENT),
     "suspicious_slot", "p-back"),
    ("year 9999", body("BOOKING_CREATED", booking("p-9999", "9999-11-20T10:00:00Z",
                                                  "9999-11-20T10:30:00Z"), SENT),
     "suspicious_slot", "p-9999"),
    ("uid reused, older slot", body("BOOKING_CREATED", booking(
        "p-reuse", iso(NOW - timedelta(days=5)), iso(NOW - timedelta(days=5, minutes=-30))),
        iso(NOW - timedelta(days=6))), "uid_conflict", "p-reuse"),
]
# values too long to be a key (from a public booking link, `?metadata[leadId]=…`, or a
# booker's form): stored as received, kept out of the chains, listed; before, one such
# delivery failed every later refresh ("index row size … exceeds btree maximum")
OVERSIZED = [
    ("10,000-character uid", body("BOOKING_CREATED", booking("u" * 10_000, START, END), SENT),
     "oversized_value", None),
    ("5,000-character lead id", body("BOOKING_CREATED", booking(
        "p-longlead", START, END, metadata={"leadId": "L" * 5000}), SENT),
     "oversized_value", "p-longlead"),
    ("5,000-character attendee email", body("BOOKING_CREATED", {
        **booking("p-longmail", START, END),
        "attendees": [{"email": "a" * 5000 + "@poison.example", "name": "P"}]}, SENT),
     "oversized_value", "p-longmail"),
    ("10,000-character rescheduleUid", body("BOOKING_RESCHEDULED", booking(
        "p-longparent", START, END, rescheduleUid="r" * 10_000), SENT),
     "oversized_value", "p-longparent"),
]
POISON += OVERSIZED
REUSE_LATEST = body("BOOKING_CREATED", booking("p-reuse", START, END), SENT)
CRM_TYPOS = [
    ("T-0025", {"created_at": "0025-11-02T09:00:00Z"}),
    ("T-0001", {"created_at": "0001-01-01T00:00:00Z"}),
    ("T-9999", {"created_at": "9999-12-31T09:00:00Z"}),
    ("T-2999", {"updated_at": "2999-11-02T09:00:00Z"}),
    ("T-mail", {"email": "m" * 5000 + "@typo.example"}),
    ("T-source", {"source": "s" * 5000}),
]
NOT_JSON = b"{this is signed but not JSON"


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory):
    target = tmp_path_factory.mktemp("dbt-bad-data")
    sc = generate(5, as_of=NOW, leads=120, weeks=6)
    dsn = create_database("brbad")
    init_db(dsn)
    store_bodies(dsn, sc.bodies)
    load_crm(dsn, sc)
    # both refreshes run as of a moment after the test's deliveries, so the refusals it
    # provokes fall inside feed health's "last 7 days"; taken when the fixture runs, not
    # when the module is imported (tests collected before this one can take minutes)
    build_as_of = (datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)).isoformat()
    first = refresh(dsn, as_of=build_as_of, target_dir=target, unit_tests=False)
    assert first.build.success, first.build.failures
    before = {
        "bookings": fetchall(dsn, "select booking_id, outcome, start_at from"
                                  " reporting.fct_bookings order by 1"),
        "status": fetchall(dsn, "select status from reporting.feed_health")[0][0],
    }
    spool = tmp_path_factory.mktemp("spool")
    app = create_server_app({"DATABASE_URL": dsn, "CALCOM_WEBHOOK_SECRETS": [SECRET],
                             "SPOOL_DIR": str(spool), "DATA_DIR": str(target)})
    with LiveServer(app) as live:
        answers = [post_webhook(live.url, b, SECRET).status for _, b, _, _ in POISON]
        answers.append(post_webhook(live.url, REUSE_LATEST, SECRET).status)
        answers.append(post_webhook(live.url, NOT_JSON, SECRET).status)
        junk = [post_webhook(live.url, b'{"triggerEvent": "BOOKING_CREATED"}').status
                for _ in range(12)]
        # a stranger who knows the header's name but not the secret: refused, recorded,
        # shown; it used to switch the report to fallback for 7 days
        forged = [post_webhook(live.url, delivery, signature="0").status
                  for delivery in [REUSE_LATEST + b" " * i for i in range(1, 41)]]
    # the CRM export with typos: a lead created in the year 0025, 0001 or 9999, updated
    # in 2999, an email or a source too long to be a key (one of them its lead's second
    # row: the lead keeps its first)
    crm = io.StringIO()
    writer = csv.DictWriter(crm, fieldnames=list(sc.crm_rows()[0]))
    writer.writeheader()
    writer.writerows(sc.crm_rows())
    for lead_id, fields in CRM_TYPOS:
        writer.writerow({**{k: "" for k in sc.crm_rows()[0]}, "lead_id": lead_id,
                         "created_at": "2026-11-02T09:00:00Z", "source": "ads", **fields})
    crm_path = tmp_path_factory.mktemp("crm") / "typos.csv"
    crm_path.write_text(crm.getvalue())
    loaded = subprocess.run([sys.executable, "-m", "booking_report.cli", "load-crm",
                             str(crm_path)], env=dict(os.environ, DATABASE_URL=dsn), cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    second = refresh(dsn, as_of=build_as_of, target_dir=target, unit_tests=False)
    full = refresh(dsn, as_of=build_as_of, target_dir=target, unit_tests=False,
                   full_refresh=True)
    expected = sc.expected()
    yield {"dsn": dsn, "before": before, "answers": answers, "junk": junk, "second": second,
           "forged": forged, "full": full, "expected_status": expected["feed_status"],
           # the scenario's own (it runs as of now): occurrences of a recurring series
           # told cancelled by "cancel all remaining" alone, listed until confirmed
           "own_problems": sum(b["outcome_source"] == "series_cancel"
                               for b in expected["bookings"].values()),
           "target": target}
    drop_database(dsn)


def test_every_authentic_body_was_stored_and_junk_refused(poisoned):
    assert poisoned["answers"] == [200] * len(POISON) + [200, 400]
    assert set(poisoned["junk"]) == {401}
    assert set(poisoned["forged"]) == {401}


def test_a_full_rebuild_after_oversized_values_succeeds_too(poisoned):
    assert poisoned["full"].build.success, poisoned["full"].build.failures
    oversized = fetchall(poisoned["dsn"], "select detail from reporting.feed_problems"
                                          " where problem = 'oversized_value'"
                                          " and problem_source = 'webhook' order by 1")
    assert len(oversized) == len(OVERSIZED)
    assert any("uid (10000 characters, limit 255)" in d for (d,) in oversized), oversized
    assert any("metadata.leadId (5000 characters" in d for (d,) in oversized), oversized
    assert any("attendee(s) with an email over 320" in d for (d,) in oversized), oversized


def test_the_refresh_after_poisoned_deliveries_succeeds_and_names_them(poisoned):
    outcome = poisoned["second"]
    assert outcome.build.success, outcome.build.failures
    out = io.StringIO()
    print_summary(outcome, stream=out)
    summary = out.getvalue()
    # + the signed body that is not JSON
    total = len(POISON) + 1 + len(CRM_TYPOS) + poisoned["own_problems"]
    assert f"warning: {total} feed problems kept out of the numbers" in summary, summary
    assert "5 unreadable timestamp" in summary and "reporting.feed_problems" in summary


def test_each_poisoned_delivery_is_listed_with_its_problem(poisoned):
    rows = fetchall(poisoned["dsn"], "select problem, booking_uid, trigger_event, detail"
                                     " from reporting.feed_problems"
                                     " where problem_source <> 'crm'")
    listed = {(problem, uid) for problem, uid, _, _ in rows}
    for what, _, problem, uid in POISON:
        assert (problem, uid) in listed, f"{what}: not listed as {problem}"
    assert ("unreadable_body", None) in listed
    assert len(rows) == len(POISON) + 1 + poisoned["own_problems"]
    details = " ".join(detail for *_, detail in rows)
    assert "@poison.example" not in details  # no contact data
    assert fetchall(poisoned["dsn"], "select feed_problems from reporting.feed_health") == [
        (len(POISON) + 1 + poisoned["own_problems"],)]


def test_crm_typos_are_listed_with_their_export_and_row_and_stretch_no_mart(poisoned):
    """A lead created in the year 0025 used to stretch rpt_weekly_status to 730,884 rows;
    years 0001 and 9999 to 3.65 million. Each such row is kept out of the leads and
    listed with its export and row; the weekly marts span the real history only."""
    dsn = poisoned["dsn"]
    listed = fetchall(dsn, "select crm_lead_id, problem, crm_export, crm_row, detail"
                           " from reporting.feed_problems where problem_source = 'crm'"
                           " order by crm_row")
    assert {(lead, problem) for lead, problem, *_ in listed} == {
        ("T-0025", "implausible_crm_time"), ("T-0001", "implausible_crm_time"),
        ("T-9999", "implausible_crm_time"), ("T-2999", "implausible_crm_time"),
        ("T-mail", "oversized_value"), ("T-source", "oversized_value")}
    assert {export for _, _, export, _, _ in listed} == {"typos.csv"}
    assert all(row > 100 for *_, row, _ in listed)  # the rows after the scenario's leads
    assert not any("@typo.example" in detail for *_, detail in listed)  # no contact data
    assert fetchall(dsn, "select count(*) from reporting.dim_leads where lead_id like 'T-%%'"
                    ) == [(0,)]
    weeks = fetchall(dsn, "select min(week_start), max(week_start), count(distinct week_start)"
                          " from reporting.rpt_weekly_status")[0]
    assert weeks[0].year >= NOW.year - 1 and weeks[1].year <= NOW.year + 1, weeks
    assert weeks[2] < 60, weeks


def test_the_clean_numbers_are_untouched_and_suspicious_slots_stay_out_of_the_rates(poisoned):
    dsn = poisoned["dsn"]
    after = fetchall(dsn, "select booking_id, outcome, start_at from reporting.fct_bookings"
                          " where booking_id not like 'p-%%' order by 1")
    assert after == poisoned["before"]["bookings"]
    poisoned_chains = dict(fetchall(dsn, "select booking_id, outcome from"
                                         " reporting.fct_bookings where booking_id like 'p-%%'"))
    # unreadable events formed no chain; suspicious slots went to review; the reused uid
    # kept its latest booking
    assert poisoned_chains == {"p-back": "needs_review", "p-9999": "needs_review",
                               "p-reuse": "upcoming"}
    assert fetchall(dsn, "select count(*) from reporting.fct_bookings where slot_week is null"
                         " and booking_id in ('p-back', 'p-9999')") == [(2,)]
    last_week = fetchall(dsn, "select max(week_start) from reporting.rpt_weekly_status")[0][0]
    assert last_week.year == NOW.year or last_week.year == NOW.year + 1
    # each is in the review queue as a suspicious slot (and, matching no lead, as an
    # unattributed booking too), never as a meeting without an outcome
    reasons = set(fetchall(dsn, "select booking_id, reason from reporting_private.review_queue"
                                " where booking_id in ('p-back', 'p-9999')"))
    assert {("p-back", "suspicious_slot"), ("p-9999", "suspicious_slot")} <= reasons
    assert not {r for _, r in reasons} & {"no_outcome_evidence"}


def test_refused_requests_never_switch_the_report_to_fallback(poisoned):
    """12 unsigned requests and 40 with a forged signature header beside the accepted
    deliveries: counted and shown, never the feed's status (a stranger can send any
    header; a real secret mismatch shows as bookings the CRM has and Cal.com lacks)."""
    status, refused, unsigned, share = fetchall(
        poisoned["dsn"], "select status, refused_deliveries_7d, unsigned_requests_7d,"
                         " refused_share_7d from reporting.feed_health")[0]
    assert status == poisoned["before"]["status"] == poisoned["expected_status"] == "healthy"
    assert (refused, unsigned) == (40, 12)
    assert share > 0.10  # above the old limit that switched the report


def test_the_page_and_the_terminal_show_the_problem_count(poisoned, tmp_path):
    dsn = poisoned["dsn"]
    app = create_server_app({"DATABASE_URL": dsn, "CALCOM_WEBHOOK_SECRETS": [SECRET],
                             "SPOOL_DIR": str(tmp_path / "spool"), "DATA_DIR": str(tmp_path)})
    with LiveServer(app) as live:
        page = Client(live.url).request("/report")
    total = len(POISON) + 1 + poisoned["own_problems"]
    assert f"{total} Cal.com events could not be used" in page.text
    assert f"{len(CRM_TYPOS)} rows of the latest CRM export could not be used" in page.text
    assert "12 unsigned requests from elsewhere (ignored)" in page.text
    assert ("40 deliveries with a wrong signature in 7 days: if you rotated the Cal.com "
            "webhook secret, add the new one") in page.text
    env = dict(os.environ, DATABASE_URL=dsn)
    text = subprocess.run([sys.executable, "-m", "booking_report.cli", "report"], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=120).stdout
    assert f"{total} Cal.com events could not be used" in text
    with psycopg.connect(dsn) as conn:  # the raw bodies are all still there
        assert conn.execute("select count(*) from raw.calcom_webhook_events"
                            " where body_sha256 is not null").fetchone()[0] > total


# ------------------------------------------------------------------ the timestamp check


def _reference_epoch(text: str) -> float | None:
    """What safe_timestamptz must return (as a Unix time), written independently: the
    ISO-8601 shape, then each field's range by value; None for anything else."""
    shape = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(\.\d{1,9})?)?"
                        r"(Z|[+-]\d\d(?::?\d\d)?)", re.ASCII)
    match = shape.fullmatch(text.strip(" "))
    if not match:
        return None
    year, month, day, hour, minute = (int(g) for g in match.groups()[:5])
    second = int(match.group(6) or 0)
    if not (year >= 1 and hour <= 23 and minute <= 59 and second <= 59):
        return None
    try:
        days = date(year, month, day).toordinal() - date(1970, 1, 1).toordinal()
    except ValueError:
        return None
    offset = 0
    zone = match.group(8)
    if zone != "Z":
        off_hours, off_minutes = int(zone[1:3]), int(zone[-2:]) if len(zone) > 3 else 0
        if off_hours > 15 or off_minutes > 59:
            return None
        offset = (1 if zone[0] == "+" else -1) * (off_hours * 3600 + off_minutes * 60)
    fraction = float(match.group(7) or 0)
    return days * 86400 + hour * 3600 + minute * 60 + second + fraction - offset


def _candidates(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)

    def two(lo: int, hi: int) -> str:
        return f"{rng.randint(lo, hi):02d}"

    out = {"", " ", "garbage", "2026-02-29T10:00:00Z", "2024-02-29T10:00:00Z",
           "2000-02-29T10:00Z", "1900-02-29T10:00Z", "2026-04-31T00:00Z",
           "2026-13-01T10:00:00Z", "0000-01-01T10:00:00Z", "2026-11-20T10:00:00+25:00",
           "2026-11-20T25:00:00Z", "2026-02-30T10:00:00Z", "2026-11-20T10:00:00.123456789Z",
           "0001-01-01T00:00:00+15:59", "9999-12-31T23:59:59-15:59", "２０２６-11-20T10:00Z"}
    years = ["0000", "0001", "1900", "2000", "2024", "2026", "9999"]
    months = ["00", "01", "02", "04", "09", "11", "12", "13"]
    days = ["00", "01", "28", "29", "30", "31", "32"]
    zones = ["Z", "z", "", "+00:00", "-05:00", "+15:59", "+16:00", "+05:60", "+0530", "+05",
             "+5"]
    while len(out) < n:
        seconds = rng.choice(["", ":00", ":59", ":60", ":5", f":{two(0, 69)}",
                              f":{two(0, 59)}.{rng.randint(0, 999999)}", ":00."])
        stamp = (f"{rng.choice([*years, f'{rng.randint(0, 9999):04d}'])}"
                 f"-{rng.choice([*months, two(0, 19)])}-{rng.choice([*days, two(0, 39)])}"
                 f"{rng.choice(['T', ' ', 't'])}{rng.choice(['00', '23', '24', two(0, 29)])}"
                 f":{rng.choice(['00', '59', '60', two(0, 69)])}{seconds}"
                 f"{rng.choice([*zones, f'+{two(0, 19)}:{two(0, 69)}'])}")
        if rng.random() < 0.05:
            stamp = f" {stamp} "
        if rng.random() < 0.05:
            stamp = stamp[:rng.randint(0, len(stamp))]
        out.add(stamp)
    return sorted(out)


def test_the_timestamp_check_agrees_with_an_independent_reference(poisoned):
    """safe_timestamptz (macros/time.sql), compiled by dbt and run in Postgres, on
    thousands of generated near-misses and valid stamps: null exactly where the
    reference says the text is not a real instant, else the same instant; never an
    error."""
    result = run_dbt(poisoned["dsn"], ["compile", "--inline",
                                       "select {{ safe_timestamptz('candidate') }} as parsed"],
                     target_dir=poisoned["target"])
    assert result.success, result.exception
    parsed_sql = result.result.results[0].node.compiled_code.replace("%", "%%")
    candidates = _candidates(seed=20261126, n=20000)
    query = ("select candidate, extract(epoch from parsed) from unnest(%s::text[])"
             f" as input (candidate) cross join lateral ({parsed_sql}) as checked")
    with psycopg.connect(poisoned["dsn"]) as conn:
        rows = conn.execute(query, (candidates,)).fetchall()
    assert len(rows) == len(candidates)
    valid = 0
    for candidate, epoch in rows:
        expected = _reference_epoch(candidate)
        if expected is None:
            assert epoch is None, candidate
        else:
            valid += 1
            assert epoch is not None and abs(float(epoch) - expected) < 1e-6, candidate
    assert valid > 500  # the generator reaches both sides
