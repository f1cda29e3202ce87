"""Load one week's report from the marts (the page, the terminal and the exports share it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")
BREAKDOWNS = {"source": ("rpt_weekly_status", "lead_source", "Lead source"),
              "host": ("rpt_weekly_by_host", "host_key", "Host"),
              "event_type": ("rpt_weekly_by_event_type", "event_type", "Event type")}
GAP_TYPES = ("crm_missing_booking", "crm_stale_after_cancel", "calcom_missing_booking",
             "outcome_conflict")

HEADLINES = [
    # key, label, kind, lower is better
    ("book_rate", "Book rate", "rate", False),
    ("no_show_rate", "No-show rate", "rate", True),
    ("reschedule_rate", "Reschedule rate", "rate", True),
    ("cancellation_rate", "Cancellation rate", "rate", True),
    ("median_hours_to_book", "Median time to book", "hours", True),
]


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
    followups: list[dict[str, Any]] = field(default_factory=list)
    review: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    pending_confirmations: list[dict[str, Any]] = field(default_factory=list)
    private: bool = True
    breakdown_by: str = "source"
    breakdown_rows: list[dict[str, Any]] = field(default_factory=list)
    host_names: dict[str, str] = field(default_factory=dict)
    named_gaps: list[dict[str, Any]] = field(default_factory=list)

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

    @property
    def review_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.review:
            counts[item["reason"]] = counts.get(item["reason"], 0) + 1
        return counts


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


def _rows(conn, query: sql.Composable, params: tuple = ()) -> list[dict[str, Any]]:
    return conn.execute(query, params).fetchall()


def load_report(dsn: str, *, week: str | None = None, source: str | None = None,
                reporting: str = "reporting", private: str | None = "reporting_private",
                trend_weeks: int = 12, by: str | None = None) -> ReportData:
    rep = sql.Identifier(reporting)
    try:
        # no JIT: compiling a plan costs more than these small indexed reads
        with psycopg.connect(dsn, row_factory=dict_row, connect_timeout=5,
                             options="-c statement_timeout=20000 -c jit=off") as conn:
            # every time is shown in the timezone the marts were built in
            zone = conn.execute(sql.SQL("select report_timezone from {}.feed_health").format(
                rep)).fetchone()
            if zone and zone["report_timezone"]:
                conn.execute("select set_config('TimeZone', %s, false)",
                             (zone["report_timezone"],))
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
                              breakdown_by=chosen_by)
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
            data.gaps = _rows(conn, sql.SQL(
                "select * from {}.reconciliation_gaps order by detected_at desc nulls last,"
                " gap_id limit 200").format(rep))
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


def _load_private(conn, data: ReportData, priv: sql.Identifier, source: str) -> None:
    source_filter = sql.SQL("") if source == "all" else sql.SQL(" where lead_source = %s")
    params: tuple = () if source == "all" else (source,)
    data.followups = _rows(conn, sql.SQL(
        "select * from {}.rpt_followups{} order by followup_at desc, booking_id limit 100"
    ).format(priv, source_filter), params)
    # oldest first: what has waited longest comes first
    data.review = _rows(conn, sql.SQL(
        "select * from {}.review_queue order by since asc nulls last, review_item_id"
        " limit 1000").format(priv))
    data.named_gaps = [item for item in data.review if item["reason"] in GAP_TYPES]
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


# ------------------------------------------------------------ what the page shows


def headline_cards(data: ReportData) -> list[dict[str, Any]]:
    """The five headline numbers, each with its denominator, last week, the change
    (never good or bad while the week is in progress) and its notes."""
    from report import wording as w

    r = data.row or {}
    ip = data.in_progress
    resolved = int(r.get("completed_meetings") or 0) + int(r.get("no_shows") or 0)

    def card(key, label, value, basis, denominator, prior, change, lower, notes=(),
             hidden=False, kind="rate"):
        return {"key": key, "label": label, "term": w.TERMS[key], "value": value,
                "basis": basis, "small": w.is_small_sample(denominator), "prior": prior,
                "change": change, "tone": w.change_tone(r.get("delta_" + key), lower,
                                                        in_progress=ip),
                "notes": [n for n in notes if n], "hidden": hidden, "kind": kind}

    unresolved = data.unresolved
    bookings = w.plural(r.get("bookings_made"), "booking")
    fallback_note = "From Cal.com events: may be incomplete." if data.fallback else ""
    return [
        card("book_rate", "Book rate", w.percent(r.get("book_rate")),
             f"{r.get('booked_leads', 0):,} of "
             f"{w.plural(r.get('eligible_leads'), 'eligible lead')}",
             r.get("eligible_leads"), w.percent(r.get("prev_book_rate")),
             w.points(r.get("delta_book_rate")), False,
             ["Provisional: these leads can still book."] if r.get("is_book_rate_provisional")
             else []),
        card("no_show_rate", "No-show rate", w.percent(r.get("no_show_rate")),
             f"{r.get('no_shows', 0):,} of {w.plural(resolved, 'meeting')} with an outcome",
             resolved, w.percent(r.get("prev_no_show_rate")),
             w.points(r.get("delta_no_show_rate")), True,
             [f"{w.plural(unresolved, 'meeting')} without an outcome yet, not counted."
              if unresolved else ""], hidden=data.fallback),
        card("reschedule_rate", "Reschedule rate", w.percent(r.get("reschedule_rate")),
             f"{r.get('rescheduled_bookings', 0):,} of {bookings}",
             r.get("bookings_made"), w.percent(r.get("prev_reschedule_rate")),
             w.points(r.get("delta_reschedule_rate")), True, [fallback_note]),
        card("cancellation_rate", "Cancellation rate", w.percent(r.get("cancellation_rate")),
             f"{r.get('cancelled_bookings', 0):,} of {bookings}",
             r.get("bookings_made"), w.percent(r.get("prev_cancellation_rate")),
             w.points(r.get("delta_cancellation_rate")), True, [fallback_note]),
        card("median_hours_to_book", "Median time to book", w.hours(r.get("median_hours_to_book")),
             f"over {w.plural(r.get('booked_leads'), 'booked lead')}", r.get("booked_leads"),
             w.hours(r.get("prev_median_hours_to_book")),
             w.hours_change(r.get("delta_median_hours_to_book")), True, kind="hours"),
    ]


def review_groups(data: ReportData, *, week_only: bool = False
                  ) -> tuple[list[dict[str, Any]], list[tuple[str, list[dict[str, Any]]]]]:
    """The review queue grouped by reason (a fixed order), each oldest first; with
    ``week_only`` only the meetings whose slot is in the chosen week."""
    from report.wording import REASON_LABELS

    items = data.review
    if week_only and data.week:
        end = data.week + timedelta(days=7)
        items = [i for i in items if i["start_at"] and data.week <= i["start_at"].date() < end]
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        groups.setdefault(item["reason"], []).append(item)
    order = list(REASON_LABELS)
    ranked = sorted(groups.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order
                    else len(order))
    return items, ranked


# ------------------------------------------------------------ formatting helpers


def as_float(value: Any) -> float | None:
    if value is None:
        return None
    return float(value)


def fmt_rate(value: Any) -> str:
    number = as_float(value)
    return "—" if number is None else f"{100 * number:.1f}%"


def fmt_hours(value: Any) -> str:
    """Always hours (one unit on every surface)."""
    from report.wording import hours

    return hours(value)


def fmt_delta(value: Any, kind: str) -> str:
    number = as_float(value)
    if number is None:
        return "—"
    if kind == "rate":
        return f"{100 * number:+.1f} pts"
    return f"{number:+.1f} h"


def recovery_line(feed: dict[str, Any] | None) -> str | None:
    """"Recovered from Cal.com: …" when the API sync revealed what webhooks missed."""
    from report.wording import plural

    if not feed:
        return None
    bookings = int(feed.get("recovered_bookings_28d") or 0)
    changes = int(feed.get("recovered_changes_28d") or 0)
    if not bookings and not changes:
        if feed.get("api_sync_status") == "ok":
            return ("Recovered from Cal.com: nothing was missing in the last 28 days "
                    "(webhook loss 0%).")
        return None
    return (f"Recovered from Cal.com: {plural(bookings, 'booking')} and "
            f"{plural(changes, 'change')} that webhooks missed in the last 28 days "
            f"(webhook loss {fmt_rate(feed.get('webhook_loss_share'))} of bookings).")


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


def reminder_reading(rows: list[dict[str, Any]]) -> str:
    """One plain-language line about the reminder comparison within bands."""
    comparable = [r for r in rows if r["lead_time_band"] != "all_bands"
                  and r["with_reminder_meetings"] >= 5 and r["without_reminder_meetings"] >= 5]
    if not comparable:
        return ("Not enough resolved meetings with and without reminders in the same "
                "booking-lead-time band to compare yet.")
    diffs = [as_float(r["no_show_rate_difference"]) for r in comparable]
    helped = sum(1 for d in diffs if d is not None and d < 0)
    average = sum(d for d in diffs if d is not None) / len(diffs)
    bands = len(comparable)
    if helped == bands:
        verdict = "lower in every comparable band"
    elif helped == 0:
        verdict = "not lower in any comparable band"
    else:
        verdict = f"lower in {helped} of {bands} comparable bands"
    return (f"With a reminder, the no-show rate was {verdict} "
            f"(on average {abs(100 * average):.1f} pts "
            f"{'lower' if average < 0 else 'higher'}), comparing bookings made the same "
            "number of days ahead.")
