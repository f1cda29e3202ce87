"""Load one week's report from the marts (the page, the terminal and the exports share it)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, tuple_row

from report.connections import apply_settings

# the report's transactions: no JIT (compiling a plan costs more than these small
# indexed reads), and a bound on any one read; set inside each transaction, never as a
# startup option (report/connections.py: transaction-mode poolers)
READ_SETTINGS = {"statement_timeout": "20000", "jit": "off"}
WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")
BREAKDOWNS = {"source": ("rpt_weekly_status", "lead_source", "Lead source"),
              "host": ("rpt_weekly_by_host", "host_key", "Host"),
              "event_type": ("rpt_weekly_by_event_type", "event_type", "Event type")}
GAP_TYPES = ("crm_missing_booking", "crm_stale_after_cancel", "calcom_missing_booking",
             "outcome_conflict")
# what needs the owner's answer (the queue on the page); the CRM-only disagreements are
# listed apart, and a person with both is shown once, in the queue, with both reasons
ANSWER_REASONS = ("no_outcome_evidence", "outcome_conflict", "suspicious_slot",
                  "unattributed_booking")
CRM_REASONS = ("crm_missing_booking", "crm_stale_after_cancel", "calcom_missing_booking")
# the queue is paged, newest meeting first; every item of the week is reachable
REVIEW_PAGE_SIZE = 25
FOLLOWUPS_SHOWN = 100
GAPS_SHOWN = 200
# a review item's slot starts in the week that starts on the date given twice; local
# midnights in the session's timezone, which _use_report_timezone sets to the report's
SLOT_IN_WEEK = "start_at >= cast(%s as date) and start_at < cast(%s as date) + 7"

class ReportError(ValueError):
    """Bad input (week, source) or marts that are not built yet."""


class MartsNotBuilt(ReportError):
    """No refresh has built the marts in this database yet."""


@dataclass
class ReportData:
    week: date | None
    source: str
    feed: dict[str, Any] | None
    row: dict[str, Any] | None
    weeks: list[date] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    breakdown: list[dict[str, Any]] = field(default_factory=list)
    trend: list[dict[str, Any]] = field(default_factory=list)
    reminder: list[dict[str, Any]] = field(default_factory=list)
    # the reminder verdict for the chosen source (reporting.rpt_reminder_verdict)
    verdict: dict[str, Any] | None = None
    followups: list[dict[str, Any]] = field(default_factory=list)
    review: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    pending_confirmations: list[dict[str, Any]] = field(default_factory=list)
    private: bool = True
    breakdown_by: str = "source"
    breakdown_rows: list[dict[str, Any]] = field(default_factory=list)
    host_names: dict[str, str] = field(default_factory=dict)
    named_gaps: list[dict[str, Any]] = field(default_factory=list)
    # exact totals: the lists above hold only the first items of each
    review_counts: dict[str, int] = field(default_factory=dict)
    followups_total: int = 0
    gaps_total: int = 0
    # the review queue: the chosen week's meetings (else every week), newest first, a
    # page at a time; `review_open` counts what still needs an answer (read live: a
    # confirmation leaves the queue at once, before the next refresh)
    review_week_only: bool = True
    review_page: int = 0
    review_open: int = 0
    review_listed: int = 0  # open items plus those saved since the last build (in place)
    review_other_weeks: int = 0

    @property
    def review_total(self) -> int:
        return sum(self.review_counts.values())

    @property
    def review_pages(self) -> int:
        return max(1, -(-self.review_listed // REVIEW_PAGE_SIZE))

    @property
    def current_week(self) -> date | None:
        return self.feed["current_week_start"] if self.feed else None

    @property
    def week_state(self) -> dict[str, Any]:
        from report.wording import week_status

        if not (self.week and self.feed):
            return {"state": "complete", "days_left": 0, "label": ""}
        return week_status(self.week, self.feed["as_of"])

    @property
    def in_progress(self) -> bool:
        return self.week_state["state"] == "in_progress"

    @property
    def empty(self) -> bool:
        return not self.weeks

    @property
    def fallback(self) -> bool:
        return bool(self.feed and self.feed["is_fallback"])

    @property
    def iso_week(self) -> str:
        return iso_week_label(self.week) if self.week else ""

    @property
    def unresolved(self) -> int:
        if not self.row:
            return 0
        return int(self.row["awaiting_outcome"]) + int(self.row["needs_review"])


def iso_week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str) -> date:
    match = WEEK_PATTERN.match(text.strip())
    if not match:
        raise ReportError(f"week {text!r} is not an ISO week like 2026-W47")
    try:
        return date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise ReportError(f"week {text!r} does not exist") from None


@contextmanager
def _new_connection(dsn: str, *, settings: dict[str, str]) -> Iterator[psycopg.Connection]:
    with psycopg.connect(dsn, connect_timeout=5, prepare_threshold=None) as conn:
        apply_settings(conn, settings)
        yield conn


def _rows(conn, query: sql.Composable, params: tuple = ()) -> list[dict[str, Any]]:
    return conn.execute(query, params).fetchall()


def _use_report_timezone(conn, reporting: sql.Identifier) -> None:
    """Show every time in the timezone the marts were built in."""
    row = conn.cursor(row_factory=tuple_row).execute(sql.SQL(
        "select report_timezone from {}.feed_health").format(reporting)).fetchone()
    if row and row[0]:
        conn.execute("select set_config('TimeZone', %s, true)", (row[0],))


def load_report(dsn: str, *, week: str | None = None, source: str | None = None,
                reporting: str = "reporting", private: str | None = "reporting_private",
                trend_weeks: int = 12, by: str | None = None,
                review_week_only: bool = True, review_page: int = 0,
                connection: Callable[..., AbstractContextManager] | None = None) -> ReportData:
    """The page's, the terminal's and the digest's data. ``connection(dsn, settings=…)``
    lends the connection (the page passes its kept ones, report/connections.py); by
    default a new one is opened and closed."""
    rep = sql.Identifier(reporting)
    try:
        with (connection or _new_connection)(dsn, settings=READ_SETTINGS) as conn:
            conn.row_factory = dict_row
            _use_report_timezone(conn, rep)
            feed_rows = _rows(conn, sql.SQL("select * from {}.feed_health").format(rep))
            weeks = [r["week_start"] for r in _rows(conn, sql.SQL(
                "select distinct week_start from {}.rpt_weekly_status order by 1").format(rep))]
            sources = [r["lead_source"] for r in _rows(conn, sql.SQL(
                "select lead_source from {}.rpt_weekly_status group by lead_source"
                " order by lead_source = 'all' desc, lead_source").format(rep))]
            feed = feed_rows[0] if feed_rows else None
            # weeks after the current one (slots booked ahead) are not offered
            if feed:
                weeks = [w for w in weeks if w <= feed["current_week_start"]] or weeks
            chosen_by = (by or "source").strip().lower()
            if chosen_by not in BREAKDOWNS:
                raise ReportError(f"breakdown {by!r} is not one of: {', '.join(BREAKDOWNS)}")
            chosen_source = (source or "all").strip().lower()
            if sources and chosen_source not in sources:
                raise ReportError(f"source {source!r} is not in the report; choose one of: "
                                  f"{', '.join(sources)}")
            if week:
                chosen_week: date | None = parse_week(week)
                if feed and chosen_week > feed["current_week_start"]:
                    raise ReportError(
                        f"week {week} has not started yet; the latest week is "
                        f"{iso_week_label(feed['current_week_start'])}")
                if weeks and chosen_week not in weeks:
                    raise ReportError(
                        f"week {week} has no data; the report covers "
                        f"{iso_week_label(weeks[0])} to {iso_week_label(weeks[-1])}")
            elif weeks and feed:
                last_complete = feed["current_week_start"] - timedelta(days=7)
                candidates = [w for w in weeks if w <= last_complete]
                chosen_week = candidates[-1] if candidates else weeks[0]
            else:
                chosen_week = weeks[-1] if weeks else None
            data = ReportData(chosen_week, chosen_source, feed, None, weeks, sources,
                              breakdown_by=chosen_by, review_week_only=review_week_only,
                              review_page=max(0, review_page))
            if chosen_week is None:
                return data
            data.breakdown = _rows(conn, sql.SQL(
                "select * from {}.rpt_weekly_status where week_start = %s"
                " order by lead_source = 'all' desc, eligible_leads desc, lead_source"
            ).format(rep), (chosen_week,))
            data.row = next((r for r in data.breakdown if r["lead_source"] == chosen_source),
                            None)
            data.trend = _rows(conn, sql.SQL(
                "select week_start, iso_week, book_rate, no_show_rate, eligible_leads,"
                " completed_meetings, no_shows, is_book_rate_provisional"
                " from {}.rpt_weekly_status where lead_source = %s and week_start <= %s"
                " order by week_start desc limit %s").format(rep),
                (chosen_source, chosen_week, trend_weeks))[::-1]
            data.reminder = _rows(conn, sql.SQL(
                "select * from {}.rpt_reminder_effect where period = 'overall'"
                " order by band_order").format(rep))
            data.verdict = _verdict(conn, rep, chosen_source)
            data.gaps = _rows(conn, sql.SQL(
                "select * from {}.reconciliation_gaps order by detected_at desc nulls last,"
                " gap_id limit %s").format(rep), (GAPS_SHOWN,))
            data.gaps_total = (int(feed["open_gaps"]) if feed else 0)
            mart, column, _label = BREAKDOWNS[chosen_by]
            data.breakdown_rows = data.breakdown if chosen_by == "source" else _rows(
                conn, sql.SQL("select *, {} as breakdown_value from {}.{} where week_start = %s"
                              " order by {} = 'all' desc, meetings_scheduled desc, {}").format(
                    sql.Identifier(column), rep, sql.Identifier(mart), sql.Identifier(column),
                    sql.Identifier(column)), (chosen_week,))
            data.private = bool(private)
            if private:
                _load_private(conn, data, sql.Identifier(private), chosen_source)
            return data
    except psycopg.errors.UndefinedTable:
        raise MartsNotBuilt("the marts are not built yet: run `booking-report refresh` "
                          "(or `booking-report demo` for demo data)") from None


def _verdict(conn, rep: sql.Identifier, source: str) -> dict[str, Any] | None:
    """The reminder verdict over all complete weeks for the source (None: marts built
    before the verdict existed, until the next refresh)."""
    try:
        with conn.transaction():
            rows = _rows(conn, sql.SQL(
                "select * from {}.rpt_reminder_verdict where period = 'all'"
                " and lead_source = %s").format(rep), (source,))
    except psycopg.errors.UndefinedTable:
        return None
    return rows[0] if rows else {"verdict": "too few meetings", "meetings_reminded": 0,
                                 "meetings_not_reminded": 0}


# one item per meeting: a booking the queue lists for two reasons (no outcome, and no
# lead) is one item, under its first reason in ANSWER_REASONS' order, the other as "also"
# (review_counts.listed counts the same way, at refresh: macro answer_rank); its
# parameters are ONCE_ORDER
ONE_PER_MEETING = """
    and not exists (select 1 from {priv}.review_queue as first
                    where first.booking_id = queue.booking_id
                      and array_position(%s::text[], first.reason)
                          < array_position(%s::text[], queue.reason))"""
ONCE_ORDER = (list(ANSWER_REASONS), list(ANSWER_REASONS))

# a booking's latest confirmation saved since the last build (read live), by its id:
# the page sees a confirmation at once, before the refresh that applies it
LATEST_SAVED = """
    select saved.manual_outcome, saved.confirmed_at
    from {priv}.pending_confirmations as saved
    where saved.booking_id = queue.booking_id
      and saved.confirmation_id = (select max(latest.confirmation_id)
                                   from {priv}.pending_confirmations as latest
                                   where latest.booking_id = queue.booking_id)
"""


def _queue_totals(conn, data: ReportData, priv: sql.Identifier, *, week_only: bool,
                  in_week: sql.Composable, week_bounds: tuple,
                  once: sql.Composable) -> tuple[int, int]:
    """How many items the queue lists (one per meeting) in the chosen week (or every
    week), and in the other weeks: read from review_counts, a few rows per week. Marts
    built before review_counts counted what the queue lists (until the next refresh)
    are counted from the queue itself: slower, just as exact."""
    this_week = sql.SQL("slot_week = %s" if week_only else "true")
    try:
        with conn.transaction():  # a savepoint: the fallback runs in the same session
            row = conn.execute(sql.SQL(
                "select coalesce(sum(listed) filter (where {this_week}), 0) as listed,"
                " coalesce(sum(listed) filter (where slot_week is not null"
                "                              and not ({this_week})), 0) as other"
                " from {priv}.review_counts").format(this_week=this_week, priv=priv),
                (data.week, data.week) if week_only else ()).fetchone()
            return int(row["listed"]), int(row["other"]) if week_only else 0
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
        pass
    listed = conn.execute(sql.SQL(
        "select count(*) as n from {priv}.review_queue as queue"
        " where queue.reason = any(%s){in_week}{once}").format(
            priv=priv, in_week=in_week, once=once),
        (list(ANSWER_REASONS), *week_bounds, *ONCE_ORDER)).fetchone()["n"]
    other = 0
    if week_only:
        other = conn.execute(sql.SQL(
            "select count(*) as n from {priv}.review_queue as queue"
            " where queue.reason = any(%s)"
            " and not (" + SLOT_IN_WEEK.replace("start_at", "queue.start_at") + ")"
            " and queue.start_at is not null{once}").format(priv=priv, once=once),
            (list(ANSWER_REASONS), data.week, data.week, *ONCE_ORDER)).fetchone()["n"]
    return int(listed), int(other)


def _load_queue(conn, data: ReportData, priv: sql.Identifier) -> None:
    """The queue of what needs the owner's answer: the chosen week's meetings (or every
    week), newest first, one page; each with the person's other disagreements, and with
    a confirmation saved since the last build (shown in place, with Undo).

    Each view costs a page and the confirmations saved since the last build, not the
    queue: the totals come from review_counts, the open ones are those totals less the
    listed items with a saved confirmation, and the page is read in the order of the
    queue's (start_at desc, review_item_id) index."""
    week_only = data.review_week_only and data.week is not None
    in_week = sql.SQL(" and " + SLOT_IN_WEEK.replace("start_at", "queue.start_at")
                      if week_only else "")
    week_bounds: tuple = (data.week, data.week) if week_only else ()
    latest = sql.SQL(LATEST_SAVED).format(priv=priv)
    once = sql.SQL(ONE_PER_MEETING).format(priv=priv)
    try:
        with conn.transaction():
            listed, other_weeks = _queue_totals(conn, data, priv, week_only=week_only,
                                                in_week=in_week, week_bounds=week_bounds,
                                                once=once)
            # the listed items whose latest confirmation since the last build is not
            # an undo: found from those confirmations, a handful
            saved = conn.execute(sql.SQL(
                "select count(*) as n from {priv}.review_queue as queue"
                " where queue.booking_id in ("
                "   select pending.booking_id from {priv}.pending_confirmations as pending)"
                " and exists (select 1 from ({latest}) as saved"
                "             where saved.manual_outcome <> 'undone')"
                " and queue.reason = any(%s){in_week}{once}").format(
                    priv=priv, latest=latest, in_week=in_week, once=once),
                (list(ANSWER_REASONS), *week_bounds, *ONCE_ORDER)).fetchone()["n"]
            # the page first (a limit over the index's order, each meeting's first
            # reason checked by index), then its confirmations and other reasons
            data.review = _rows(conn, sql.SQL(
                "with page as ("
                "   select queue.* from {priv}.review_queue as queue"
                "   where queue.reason = any(%s){in_week}{once}"
                "   order by queue.start_at desc nulls last, queue.review_item_id"
                "   limit %s offset %s)"
                " select queue.*, saved.manual_outcome as saved_outcome,"
                "   saved.confirmed_at as saved_at,"
                "   (select array_agg(distinct other.reason order by other.reason)"
                "    from {priv}.review_queue as other"
                "    where (other.lead_id = queue.lead_id and other.reason = any(%s))"
                "       or (other.booking_id = queue.booking_id"
                "           and other.reason <> queue.reason)"
                "   ) as other_reasons"
                " from page as queue"
                " left join lateral ({latest}) as saved"
                "   on saved.manual_outcome <> 'undone'"
                " order by queue.start_at desc nulls last, queue.review_item_id").format(
                    priv=priv, latest=latest, in_week=in_week, once=once),
                (list(ANSWER_REASONS), *week_bounds, *ONCE_ORDER,
                 REVIEW_PAGE_SIZE, data.review_page * REVIEW_PAGE_SIZE, list(CRM_REASONS)))
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        listed, other_weeks, saved, data.review = 0, 0, 0, []
    data.review_listed, data.review_open = listed, listed - int(saved)
    data.review_other_weeks = other_weeks
    # the disagreements with the CRM, each person once: those already in the queue's
    # page carry them as "also"
    queued = {item["lead_id"] for item in data.review if item.get("lead_id")}
    newest = [item for reason in CRM_REASONS for item in _rows(conn, sql.SQL(
        "select * from {}.review_queue where reason = %s"
        " order by since desc, review_item_id desc limit %s").format(priv),
        (reason, GAPS_SHOWN))]
    newest.sort(key=lambda item: (item["since"] is not None, item["since"]), reverse=True)
    data.named_gaps = [item for item in newest
                       if item.get("lead_id") not in queued][:GAPS_SHOWN]


def _load_private(conn, data: ReportData, priv: sql.Identifier, source: str) -> None:
    source_filter = sql.SQL("") if source == "all" else sql.SQL(" where lead_source = %s")
    params: tuple = () if source == "all" else (source,)
    # in slot-time order: the latest meeting first
    data.followups = _rows(conn, sql.SQL(
        "select * from {}.rpt_followups{} order by start_at desc nulls last, booking_id"
        " limit %s").format(priv, source_filter), (*params, FOLLOWUPS_SHOWN))
    data.followups_total = conn.execute(sql.SQL("select count(*) as n from {}.rpt_followups{}")
                                        .format(priv, source_filter), params).fetchone()["n"]
    week_only = data.review_week_only and data.week is not None
    try:
        with conn.transaction():  # a savepoint: the fallback below runs in the same session
            counts = _rows(conn, sql.SQL(
                "select reason, sum(items) as items from {}.review_counts{} group by reason"
            ).format(priv, sql.SQL(" where slot_week = %s") if week_only else sql.SQL("")),
                (data.week,) if week_only else ())
    except psycopg.errors.UndefinedTable:
        # marts built before review_counts existed (until the next refresh): count the
        # queue itself, slower but just as exact
        counts = _rows(conn, sql.SQL(
            "select reason, count(*) as items from {}.review_queue{} group by reason"
        ).format(priv, sql.SQL(" where " + SLOT_IN_WEEK if week_only else "")),
            (data.week, data.week) if week_only else ())
    data.review_counts = {r["reason"]: int(r["items"]) for r in counts}
    _load_queue(conn, data, priv)
    try:
        data.host_names = {r["host_key"]: r["host_name"] for r in _rows(conn, sql.SQL(
            "select host_key, host_name from {}.hosts").format(priv))}
        # what the owner confirmed since the last build, with the person and the slot
        data.pending_confirmations = _rows(conn, sql.SQL(
            "select pending.*, item.contact_name, item.start_at"
            " from {}.pending_confirmations as pending"
            " left join lateral (select contact_name, start_at from {}.review_queue as queue"
            "   where queue.booking_id = pending.booking_id limit 1) as item on true"
            " order by pending.confirmed_at desc").format(priv, priv))
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        data.pending_confirmations = []


REVIEW_CSV_COLUMNS = ["review_item_id", "reason", "since", "start_at", "contact_name",
                      "contact_email", "lead_source", "lead_id", "booking_id", "outcome",
                      "detail"]


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """The one CSV cell writer (the review download, the terminal's CSV): a spreadsheet
    shows it as text. Names and emails come from public booking forms, and a cell
    starting with = + - @ (or a tab or carriage return) would run as a formula, so it
    gets a leading apostrophe (OWASP's CSV-injection advice); numbers stay numbers,
    decimals keep 4 places at most, times are ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | float):
        return format(round(Decimal(str(value)), 4).normalize(), "f")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def review_queue_csv(dsn: str, *, reporting: str = "reporting",
                     private: str = "reporting_private",
                     week: date | None = None) -> Iterator[str]:
    """The whole review queue as CSV, oldest first, streamed (a server-side cursor): the
    page lists the oldest items of each reason, this is everything. Times are in the
    report's timezone; ``week``: only the meetings whose slot starts in that week."""
    with _new_connection(dsn, settings={"statement_timeout": "120000", "jit": "off"}) as conn:
        _use_report_timezone(conn, sql.Identifier(reporting))
        query = sql.SQL("select {} from {}.review_queue{} order by since asc nulls last,"
                        " review_item_id").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in REVIEW_CSV_COLUMNS),
            sql.Identifier(private),
            sql.SQL(" where " + SLOT_IN_WEEK if week else ""))
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(REVIEW_CSV_COLUMNS)
        with conn.cursor(name="review_csv") as cur:
            cur.itersize = 2000
            cur.execute(query, (week, week) if week else ())
            for row in cur:
                writer.writerow([csv_cell(v) for v in row])
                if buffer.tell() > 64 * 1024:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()


# ------------------------------------------------------------ what the page shows


# each headline: (key, label, numerator, denominator, noun, lower is better)
CARD_COUNTS = {
    "book_rate": ("booked_leads", "eligible_leads", "eligible lead"),
    "no_show_rate": ("no_shows", "resolved_meetings", "meeting with an outcome",
                     "meetings with an outcome"),
    "reschedule_rate": ("rescheduled_bookings", "bookings_made", "booking"),
    "cancellation_rate": ("cancelled_bookings", "bookings_made", "booking"),
}


def headline_cards(data: ReportData) -> list[dict[str, Any]]:
    """The five headline numbers, each with its denominator, last week's value with its
    own "n of N", the change, and whether the change is clear (its 95% interval,
    computed in the marts). Only a clear change is good or bad; a week in progress is
    never either."""
    from report import wording as w

    r = dict(data.row or {})
    r.setdefault("resolved_meetings",
                 int(r.get("completed_meetings") or 0) + int(r.get("no_shows") or 0))
    ip = data.in_progress

    def card(key, label, lower, notes=(), hidden=False, kind="rate"):
        clear = bool(r.get(f"is_{key}_change_clear"))
        delta = r.get("delta_" + key)
        if kind == "rate":
            num, den, *noun = CARD_COUNTS[key]
            value, prior = w.percent(r.get(key)), w.percent(r.get("prev_" + key))
            basis = w.count_of(r.get(num), r.get(den), *noun)
            prior_basis = (w.count_of(r.get("prev_" + num), r.get("prev_" + den), *noun)
                           if r.get("prev_" + den) is not None else "")
            denominator, change = r.get(den), w.points(delta)
        else:
            value, prior = w.hours(r.get(key)), w.hours(r.get("prev_" + key))
            basis = f"over {w.plural(r.get('booked_leads'), 'booked lead')}"
            prior_basis = (f"over {w.plural(r.get('prev_booked_leads'), 'booked lead')}"
                           if r.get("prev_booked_leads") is not None else "")
            denominator, change = r.get("booked_leads"), w.hours_change(delta)
        return {"key": key, "label": label, "term": w.TERMS[key], "value": value,
                "basis": basis, "small": w.is_small_sample(denominator), "prior": prior,
                "prior_basis": prior_basis, "change": change, "clear": clear and not ip,
                "tone": w.change_tone(delta, lower, clear=clear, in_progress=ip),
                "change_note": w.change_note(delta, clear=clear, in_progress=ip),
                "notes": [n for n in notes if n], "hidden": hidden, "kind": kind}

    unresolved = data.unresolved
    fallback_note = "From Cal.com events: may be incomplete." if data.fallback else ""
    provisional = bool(r.get("is_book_rate_provisional")) and int(r.get("eligible_leads") or 0)
    return [
        card("book_rate", "Book rate", False,
             ["Provisional: these leads can still book."] if provisional else []),
        card("no_show_rate", "No-show rate", True,
             [f"{w.plural(unresolved, 'meeting')} without an outcome yet, not counted."
              if unresolved else ""], hidden=data.fallback),
        card("reschedule_rate", "Reschedule rate", True, [fallback_note]),
        card("cancellation_rate", "Cancellation rate", True, [fallback_note]),
        card("median_hours_to_book", "Median time to book", True, kind="hours"),
    ]


def week_answer(data: ReportData, cards: list[dict[str, Any]]) -> dict[str, Any]:
    """The one-line answer at the top: how many meetings happened, how many no-shows,
    how many still need an answer, and whether any change this week is clear."""
    from report import wording as w

    r = data.row or {}
    happened = int(r.get("completed_meetings") or 0) + int(r.get("no_shows") or 0) + int(
        r.get("host_no_shows") or 0)
    waiting = data.unresolved
    clear = [c["label"].lower() for c in cards if c["clear"] and not c["hidden"]]
    parts = []
    if data.fallback:
        parts.append(f"{w.plural(r.get('meetings_scheduled'), 'meeting')} scheduled; "
                     "who came needs manual confirm while the Cal.com feed is "
                     f"{(data.feed or {}).get('status')}")
    else:
        parts.append(f"{w.plural(happened, 'meeting')} with an outcome, "
                     f"{w.plural(r.get('no_shows'), 'no-show')}")
    if waiting:
        parts.append(f"{w.plural(waiting, 'meeting')} still "
                     f"{'needs' if waiting == 1 else 'need'} an answer")
    if data.in_progress:
        changes = "the week is not over, so no change is called yet"
    elif clear:
        changes = "a clear change in " + ", ".join(clear)
    else:
        changes = "no change this week is clear (all within normal variation)"
    return {"text": "; ".join(parts) + ". " + changes[0].upper() + changes[1:] + ".",
            "waiting": waiting}


def _reason_rank(reason: str) -> int:
    from report.wording import REASON_LABELS

    order = list(REASON_LABELS)
    return order.index(reason) if reason in order else len(order)


def review_groups(data: ReportData) -> list[tuple[str, list[dict[str, Any]]]]:
    """The review items loaded, grouped by reason (a fixed order), newest first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in data.review:
        groups.setdefault(item["reason"], []).append(item)
    return sorted(groups.items(), key=lambda kv: _reason_rank(kv[0]))


# ------------------------------------------------------------ formatting helpers


def as_float(value: Any) -> float | None:
    if value is None:
        return None
    return float(value)


def recovery_line(feed: dict[str, Any] | None) -> str | None:
    """"Recovered from Cal.com: …" when the API sync revealed what webhooks missed."""
    from report.wording import plural

    if not feed:
        return None
    bookings = int(feed.get("recovered_bookings_28d") or 0)
    changes = int(feed.get("recovered_changes_28d") or 0)
    if not bookings and not changes:
        if feed.get("api_sync_status") == "ok":
            return "Recovered from Cal.com: nothing was missing in the last 28 days."
        return None
    # the loss share itself is said once, by wording.lost_webhooks_line
    return (f"Recovered from Cal.com: {plural(bookings, 'booking')} and "
            f"{plural(changes, 'change')} that webhooks missed in the last 28 days.")


def sync_warning(feed: dict[str, Any] | None) -> str | None:
    if feed and feed.get("api_sync_status") == "stale":
        last = feed.get("last_sync_at")
        when = f"since {last:%Y-%m-%d %H:%M %Z}" if last else "yet"
        return (f"The Cal.com API sync has not succeeded {when}: missed webhooks are not "
                "being repaired (check CALCOM_API_KEY and the refresh log).")
    return None


def week_range(day: date) -> str:
    end = day + timedelta(days=6)
    return f"{day:%b %d} – {end:%b %d, %Y}"


def reminder_reading(data: ReportData) -> str:
    """The reminder verdict in one sentence; nothing in fallback (no-show figures are
    withheld there)."""
    from report.wording import reminder_sentence

    return "" if data.fallback else reminder_sentence(data.verdict)
