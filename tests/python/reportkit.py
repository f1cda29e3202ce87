"""Helpers for report tests: a built database with known data, a cookie-keeping client."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from helpers import create_database

from booking_report.demo.landing import load_crm, load_manual_outcomes, store_bodies
from booking_report.demo.scenario import generate
from booking_report.refresh import refresh
from ingest.db import init_db

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday: last complete week = W47


def built_database(templates, target_dir, *, seed: int = 11, as_of: datetime = AS_OF,
                   empty: bool = False, clone: bool = True) -> str:
    """A database of its own holding the scenario ``seed`` (260 leads, generated as of
    AS_OF) refreshed as of ``as_of``: a clone of a template built once per test run (for
    another ``as_of``, from the AS_OF one refreshed forward), or
    (``clone=False``) built here, for a test of what the build itself leaves behind
    beyond the data (a clone has no statistics history, for one)."""

    def build(dsn: str, when: datetime = as_of) -> None:
        init_db(dsn)
        if not empty:
            sc = generate(seed, as_of=AS_OF, leads=260)
            store_bodies(dsn, sc.bodies)
            load_crm(dsn, sc)
            load_manual_outcomes(dsn, sc)
        outcome = refresh(dsn, as_of=when.isoformat(), target_dir=target_dir,
                          unit_tests=False)
        assert outcome.build.success, outcome.build.failures

    if not clone:
        dsn = create_database("brreport")
        build(dsn)
        return dsn
    key = f"report-scenario seed={seed} as_of={as_of.isoformat()} empty={empty}"
    if as_of == AS_OF or empty:
        return templates.clone(key, build, prefix="brreport")

    def move_clock(dsn: str) -> None:
        # the scenario built as of AS_OF, then refreshed as of `as_of`, incremental and
        # only what changed: the same marts as a build as of `as_of` (test_incremental.py)
        outcome = refresh(dsn, as_of=as_of.isoformat(), target_dir=target_dir,
                          only_changed=True)
        assert outcome.build.success and outcome.full_reason is None, outcome.build.failures

    base = f"report-scenario seed={seed} as_of={AS_OF.isoformat()} empty={empty}"
    return templates.clone(key, move_clock, prefix="brreport",
                           start_from=(base, lambda dsn: build(dsn, AS_OF)))


def stale_as_of() -> datetime:
    return AS_OF + timedelta(days=10)


@dataclass
class Page:
    status: int
    text: str
    url: str
    headers: dict[str, str]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    """Real HTTP with a cookie jar; redirects are returned, not followed."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def request(self, path: str, data: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Page:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {},
                                     method="POST" if data is not None else "GET")
        try:
            with self.opener.open(req, timeout=60) as resp:
                return Page(resp.status, resp.read().decode(), resp.url, dict(resp.headers))
        except urllib.error.HTTPError as err:
            return Page(err.code, err.read().decode(), err.url, dict(err.headers))

    def csrf(self, path: str = "/login") -> str:
        page = self.request(path)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, user: str, password: str) -> Page:
        token = self.csrf("/login")
        return self.request("/login", {"csrf_token": token, "username": user,
                                       "password": password, "next": "/report"})


def card_value(html: str, metric: str) -> str:
    match = re.search(rf'data-metric="{metric}">.*?<div class="value[^"]*">(.*?)</div>',
                      html, re.S)
    assert match, f"no card for {metric}"
    return match.group(1).strip()


ANSWER_ORDER = ("no_outcome_evidence", "outcome_conflict", "suspicious_slot",
                "unattributed_booking")


def queue_ids(dsn, week_start=None, *, open_only=False, undated=False) -> list[str]:
    """The queue's items that need an answer, newest meeting first (the week's only), one
    per meeting: a booking listed for two reasons counts once, under the first reason in
    ANSWER_ORDER. `open_only`: without those confirmed since the last build, which the
    page lists in place but no longer counts; `undated`: only those with no slot."""
    with psycopg.connect(dsn) as conn:
        zone = conn.execute("select report_timezone from reporting.feed_health").fetchone()[0]
        conn.execute("select set_config('TimeZone', %s, false)", (zone,))
        where = (" and start_at >= cast(%s as date) and start_at < cast(%s as date) + 7"
                 if week_start else "") + (" and start_at is null" if undated else "")
        rows = conn.execute(
            "select review_item_id, booking_id, reason from reporting_private.review_queue"
            f" where reason = any(%s){where} order by start_at desc nulls last, review_item_id",
            (list(ANSWER_ORDER), *((week_start, week_start) if week_start else ()))).fetchall()
        saved = {b for (b,) in conn.execute(
            "select booking_id from reporting_private.pending_confirmations as saved"
            " where manual_outcome <> 'undone' and confirmation_id = (select max(confirmation_id)"
            " from reporting_private.pending_confirmations as latest"
            " where latest.booking_id = saved.booking_id)").fetchall()}
    first = {}
    for _, booking, reason in rows:
        if booking is not None:
            first[booking] = min(first.get(booking, 9), ANSWER_ORDER.index(reason))
    return [item for item, booking, reason in rows
            if (booking is None or first[booking] == ANSWER_ORDER.index(reason))
            and not (open_only and booking in saved)]


def booking_of(dsn, review_item_id: str) -> str | None:
    with psycopg.connect(dsn) as conn:
        return conn.execute("select booking_id from reporting_private.review_queue"
                            " where review_item_id = %s", (review_item_id,)).fetchone()[0]
