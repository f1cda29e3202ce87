"""`booking-report report`: the same numbers as the page, as text, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from report.data import (
    HEADLINES,
    ReportData,
    fmt_delta,
    fmt_hours,
    fmt_rate,
    recovery_line,
    reminder_reading,
    sync_warning,
    week_range,
)
from report.wording import plural, refusals_line

TRUSTED_IN_FALLBACK = {"book_rate", "median_hours_to_book", "reschedule_rate",
                       "cancellation_rate"}
CONFIRM = "needs manual confirm"


def _value(value: Any, kind: str) -> str:
    return fmt_rate(value) if kind == "rate" else fmt_hours(value)


def render(data: ReportData, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(as_dict(data), indent=2, default=_json_default) + "\n"
    if fmt == "csv":
        return as_csv(data)
    return as_text(data)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def as_dict(data: ReportData) -> dict[str, Any]:
    return {
        "week": data.iso_week or None,
        "week_start": data.week,
        "source": data.source,
        "feed": data.feed,
        "fallback": data.fallback,
        "metrics": data.row,
        "sources": data.breakdown,
        "reminder_effect": data.reminder,
        "followups": data.followups,
        "followups_total": data.followups_total,
        "review_counts": data.review_counts,
        "review_total": data.review_total,
        "reconciliation_gaps": data.gaps_total,
    }


CSV_COLUMNS = ["week_start", "iso_week", "lead_source", "eligible_leads", "booked_leads",
               "book_rate", "prev_book_rate", "delta_book_rate", "is_book_rate_provisional",
               "median_hours_to_book", "prev_median_hours_to_book", "delta_median_hours_to_book",
               "bookings_made", "rescheduled_bookings", "reschedule_rate", "prev_reschedule_rate",
               "delta_reschedule_rate", "cancelled_bookings", "cancellation_rate",
               "prev_cancellation_rate", "delta_cancellation_rate", "meetings_scheduled",
               "upcoming_meetings", "completed_meetings", "no_shows", "host_no_shows",
               "awaiting_outcome", "needs_review", "no_show_rate", "prev_no_show_rate",
               "delta_no_show_rate"]


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet cannot run: text starting like a formula gets a leading
    apostrophe (numbers stay numbers); rates and other decimals keep 4 places at most."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | float):
        rounded = round(Decimal(str(value)), 4).normalize()
        return format(rounded, "f")
    if isinstance(value, int):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def as_csv(data: ReportData) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    rows = data.breakdown if data.source == "all" else [r for r in data.breakdown
                                                         if r["lead_source"] == data.source]
    for row in rows:
        writer.writerow([csv_cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def as_text(data: ReportData) -> str:
    lines: list[str] = []
    add = lines.append
    if data.empty:
        add("Booking & No-Show Status Report: no data yet.")
        add("")
        add("Connect Cal.com: add a webhook (Settings → Developer → Webhooks) pointing at")
        add("  https://<your-host>/webhooks/calcom  with a secret (set CALCOM_WEBHOOK_SECRETS),")
        add("  triggers: booking created/requested/rescheduled/cancelled/rejected, no-show")
        add("  updated, after guests/hosts Cal Video no-show. Put ?metadata[leadId]=<CRM id>")
        add("  on your booking links. Then `booking-report load-crm leads.csv` and")
        add("  `booking-report refresh`.")
        return "\n".join(lines) + "\n"
    row = data.row or {}
    add(f"Booking & No-Show Status — week {data.iso_week} ({week_range(data.week)}), "
        f"source: {data.source}")
    feed = data.feed or {}
    if data.fallback:
        add(f"!! FEED {str(feed.get('status', '')).upper()}: {feed.get('status_reason')}.")
        add("!! Only invited/booked figures are trusted; completed and no-show "
            f"figures {CONFIRM}.")
    else:
        last = feed.get("last_event_at")
        add(f"Feed: {feed.get('status')} (last Cal.com event "
            f"{last:%Y-%m-%d %H:%M %Z})" if last else f"Feed: {feed.get('status')}")
    if feed:
        add(f"      last 28 days: {feed['recent_chains']} bookings, "
            f"{fmt_rate(feed['incomplete_history_share'])} with a missed webhook, "
            f"{feed['recent_crm_only_bookings']} only in the CRM; {feed['open_gaps']} CRM gaps")
        refusals = refusals_line(feed.get("refused_deliveries_7d") or 0,
                                 feed.get("unsigned_requests_7d") or 0)
        if refusals:
            add(f"      {refusals}")
        recovered, warning = recovery_line(feed), sync_warning(feed)
        if recovered:
            add(f"      {recovered}")
        if warning:
            add(f"!! {warning}")
        if feed.get("feed_problems"):
            add(f"      {feed['feed_problems']} Cal.com events could not be used (unreadable or "
                "impossible values): see reporting.feed_problems")
        if feed.get("crm_row_problems"):
            add(f"      {plural(feed['crm_row_problems'], 'row')} of the latest CRM export could "
                "not be used (a value too long, or an impossible date): see "
                "reporting.feed_problems")
    add("")
    add(f"{'':24}{'this week':>12}{'prior week':>12}{'change':>12}")
    for key, label, kind, _lower in HEADLINES:
        if data.fallback and key not in TRUSTED_IN_FALLBACK:
            add(f"{label:24}{CONFIRM:>36}")
            continue
        note = ""
        if key == "book_rate" and row.get("is_book_rate_provisional"):
            note = "  (provisional: this cohort can still book)"
        if key == "no_show_rate" and data.unresolved:
            note = f"  ({plural(data.unresolved, 'meeting')} without an outcome yet, not counted)"
        if data.fallback and key in ("reschedule_rate", "cancellation_rate"):
            note = "  (from Cal.com events: may be incomplete)"
        add(f"{label:24}{_value(row.get(key), kind):>12}"
            f"{_value(row.get('prev_' + key), kind):>12}"
            f"{fmt_delta(row.get('delta_' + key), kind):>12}{note}")
    add("")
    add("Funnel")
    outcome = (f"completed {row.get('completed_meetings', 0)} / no-show "
               f"{row.get('no_shows', 0)} / host no-show {row.get('host_no_shows', 0)}"
               if not data.fallback else f"completed / no-show: {CONFIRM}")
    add(f"  eligible leads {row.get('eligible_leads', 0)} → booked {row.get('booked_leads', 0)}"
        f" → meetings scheduled {row.get('meetings_scheduled', 0)} → {outcome}"
        f" / unresolved {data.unresolved} / upcoming {row.get('upcoming_meetings', 0)}")
    add("")
    add("By lead source")
    add(f"  {'source':14}{'eligible':>9}{'booked':>8}{'book rate':>11}{'bookings':>10}"
        f"{'meetings':>10}{'no-show rate':>14}")
    for r in data.breakdown:
        no_show = CONFIRM if data.fallback else fmt_rate(r["no_show_rate"])
        add(f"  {r['lead_source']:14}{r['eligible_leads']:>9}{r['booked_leads']:>8}"
            f"{fmt_rate(r['book_rate']):>11}{r['bookings_made']:>10}"
            f"{r['meetings_scheduled']:>10}{no_show:>14}")
    if data.reminder:
        add("")
        add("Reminders: " + reminder_reading(data.reminder))
    add("")
    add(f"Follow up ({data.followups_total:,} recent no-shows and cancellations)")
    for f in data.followups[:15]:
        slot = f["start_at"].strftime("%a %Y-%m-%d %H:%M") if f["start_at"] else "—"
        rebooked = "rebooked" if f["has_rebooked"] else "not rebooked"
        reason = f" — {f['reason']}" if f.get("reason") else ""
        add(f"  {f['outcome']:9} {f['contact_name'] or '?'} <{f['contact_email'] or '?'}> "
            f"[{f['lead_source']}] slot {slot}, {rebooked}{reason}")
    if data.followups_total > 15:
        add(f"  … and {data.followups_total - 15:,} more (see the page or --format json)")
    counts = data.review_counts
    add("")
    add(f"Review queue: {data.review_total} items"
        + (" (" + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items()))
           + ")" if counts else ""))
    add(f"Reconciliation gaps: {data.gaps_total}")
    return "\n".join(lines) + "\n"
