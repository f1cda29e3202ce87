"""`booking-report report`: the same numbers as the page, as text, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from report.data import (
    ReportData,
    csv_cell,
    headline_cards,
    recovery_line,
    reminder_reading,
    sync_warning,
    week_answer,
    week_range,
)
from report.wording import (
    is_small_sample,
    lost_webhooks_line,
    outcome_label,
    percent,
    plural,
    refusals_line,
    source_label,
)

CONFIRM = "needs manual confirm"


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


def as_csv(data: ReportData) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    rows = data.breakdown if data.source == "all" else [r for r in data.breakdown
                                                         if r["lead_source"] == data.source]
    for row in rows:
        writer.writerow([csv_cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def _table(rows: list[list[str]], aligns: str, indent: str = "  ") -> list[str]:
    """Columns as wide as their widest cell plus two spaces: nothing ever collides."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [cell.rjust(widths[i]) if aligns[i] == ">" else cell.ljust(widths[i])
                 for i, cell in enumerate(row)]
        out.append((indent + "  ".join(cells)).rstrip())
    return out


def as_text(data: ReportData) -> str:
    lines: list[str] = []
    add = lines.append
    if data.empty:
        add("Booking & No-Show Status Report: no data yet.")
        add("")
        add("Connect Cal.com: add a webhook (Settings → Developer → Webhooks) pointing at")
        add("  https://<your-host>/webhooks/calcom  with a secret (set CALCOM_WEBHOOK_SECRETS),")
        add("  triggers: booking created/requested/rescheduled/cancelled/rejected, payment")
        add("  initiated, paid, no-show updated, after guests/hosts Cal Video no-show. Put")
        add("  ?metadata[leadId]=<CRM id> on your booking links. Then")
        add("  `booking-report load-crm leads.csv` and `booking-report refresh`.")
        return "\n".join(lines) + "\n"
    row = data.row or {}
    scope = "all sources" if data.source == "all" else f"source: {source_label(data.source)}"
    add(f"Booking & No-Show Status — week {data.iso_week} ({week_range(data.week)}), {scope}")
    if data.in_progress:
        add(f"This week is not over ({data.week_state['label']}): its numbers will still "
            "change, and no change is called better or worse.")
    cards = headline_cards(data)
    add(week_answer(data, cards)["text"])
    feed = data.feed or {}
    add("")
    if data.fallback:
        add(f"!! Cal.com feed {feed.get('status')}: {feed.get('status_reason')}.")
        add("!! Booked-lead figures can be checked against the CRM and are shown; completed "
            "and no-show figures need manual confirm.")
    else:
        last = feed.get("last_event_at")
        add(f"Cal.com feed {feed.get('status')}"
            + (f" (last event {last:%Y-%m-%d %H:%M %Z})" if last else ""))
    if feed:
        add(f"  Last 28 days: {lost_webhooks_line(feed)}; "
            f"{plural(feed['recent_crm_only_bookings'], 'booking')} only in the CRM; "
            f"{plural(feed['open_gaps'], 'lead')} where the CRM disagrees.")
        refusals = refusals_line(feed.get("refused_deliveries_7d") or 0,
                                 feed.get("unsigned_requests_7d") or 0)
        if refusals:
            add(f"  {refusals}.")
        recovered, warning = recovery_line(feed), sync_warning(feed)
        if recovered:
            add(f"  {recovered}")
        if warning:
            add(f"!! {warning}")
        if feed.get("feed_problems"):
            add(f"  {plural(feed['feed_problems'], 'Cal.com event')} could not be used "
                "(unreadable or impossible values): see reporting.feed_problems.")
        if feed.get("crm_row_problems"):
            add(f"  {plural(feed['crm_row_problems'], 'row')} of the latest CRM export could "
                "not be used (a value too long, or an impossible date): see "
                "reporting.feed_problems.")
    add("")
    table = [["", "this week", "", "last week", "", "change", ""]]
    for c in cards:
        if c["hidden"]:
            table.append([c["label"], CONFIRM, "", "", "", "", ""])
            continue
        small = "small sample" if c["small"] else ""
        mark = c["change_note"]
        if c["clear"]:
            mark = f"{mark} ({'better' if c['tone'] == 'good' else 'worse'})"
        table.append([c["label"], c["value"], f"{c['basis']}" + (f", {small}" if small else ""),
                      c["prior"], c["prior_basis"], c["change"], mark])
    lines += _table(table, "<><><><", indent="")
    for c in cards:
        for note in ([] if c["hidden"] else c["notes"]):
            add(f"  {c['label']}: {note}")
    add("")
    add("Leads created this week")
    eligible, booked = int(row.get("eligible_leads") or 0), int(row.get("booked_leads") or 0)
    if eligible:
        add(f"  {plural(eligible, 'eligible lead')}, {booked:,} booked within 14 days"
            + (" (provisional: they can still book)" if row.get("is_book_rate_provisional")
               else ""))
    else:
        add("  no eligible leads created " + ("so far" if data.in_progress else "this week"))
    add("Meetings this week (by the meeting's time, whenever booked)")
    scheduled = int(row.get("meetings_scheduled") or 0)
    if data.fallback:
        outcome = f"completed and no-show: {CONFIRM}"
    else:
        outcome = (f"{row.get('completed_meetings', 0):,} completed, "
                   f"{plural(row.get('no_shows'), 'no-show')}, "
                   f"{plural(row.get('host_no_shows'), 'host no-show')}")
    add(f"  {plural(scheduled, 'meeting')} scheduled: {outcome}, "
        f"{data.unresolved:,} without an outcome yet, "
        f"{row.get('upcoming_meetings', 0):,} still to come")
    add("")
    add("By lead source")
    source_rows = [["source", "eligible", "booked", "book rate", "bookings", "meetings",
                    "no-show rate"]]
    for r in data.breakdown:
        book = percent(r["book_rate"]) + (" (small)" if is_small_sample(r["eligible_leads"])
                                           else "")
        resolved = int(r["completed_meetings"] or 0) + int(r["no_shows"] or 0)
        no_show = CONFIRM if data.fallback else (
            percent(r["no_show_rate"]) + (" (small)" if is_small_sample(resolved) else ""))
        source_rows.append([r["lead_source"], f"{r['eligible_leads']:,}",
                            f"{r['booked_leads']:,}", book, f"{r['bookings_made']:,}",
                            f"{r['meetings_scheduled']:,}", no_show])
    lines += _table(source_rows, "<>>>>>>")
    reading = reminder_reading(data)
    if reading:
        add("")
        add("Reminders: " + reading)
    add("")
    follow = plural(data.followups_total, "recent no-show or cancellation",
                    "recent no-shows and cancellations")
    add(f"Follow up ({follow})")
    for f in data.followups[:15]:
        slot = f["start_at"].strftime("%a %Y-%m-%d %H:%M") if f["start_at"] else "—"
        rebooked = "booked again" if f["has_rebooked"] else "not booked again"
        reason = f" — {f['reason']}" if f.get("reason") else ""
        add(f"  {outcome_label(f['outcome'])}: {f['contact_name'] or '?'} "
            f"<{f['contact_email'] or '?'}> [{f['lead_source']}] {slot}, {rebooked}{reason}")
    if data.followups_total > 15:
        add(f"  … and {data.followups_total - 15:,} more (see the page or --format json)")
    add("")
    scope = f"week {data.iso_week}" if data.review_week_only else "every week"
    add(f"Needs your answer: {plural(data.review_open, 'meeting')} ({scope})"
        + (f"; {data.review_other_weeks:,} more in other weeks"
           if data.review_other_weeks else ""))
    add(f"CRM and Cal.com disagree: {plural(data.gaps_total, 'lead')}")
    return "\n".join(lines) + "\n"
