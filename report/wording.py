"""Plain words for the page, the terminal and the digest: plurals, units, rates with
their denominators, small samples, the week in progress, and what each term means.

One place, so every surface says the same thing the same way.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

SMALL_SAMPLE = 10  # a rate from fewer cases than this is marked as a small sample

OUTCOME_LABELS = {
    "completed": "completed", "no_show": "no-show", "host_no_show": "host no-show",
    "cancelled": "cancelled", "rejected": "rejected", "pending": "awaiting the host",
    "upcoming": "upcoming", "awaiting_outcome": "awaiting an outcome",
    "needs_review": "needs review", "undone": "confirmation undone",
}

REASON_LABELS = {
    "no_outcome_evidence": "Meeting without an outcome",
    "suspicious_slot": "Impossible meeting time",
    "crm_missing_booking": "Booked in Cal.com, not in the CRM",
    "crm_stale_after_cancel": "Cancelled in Cal.com, CRM still says booked",
    "calcom_missing_booking": "Booked in the CRM, not in Cal.com",
    "outcome_conflict": "Cal.com and the CRM disagree on the outcome",
    "unattributed_booking": "Booking that matches no lead",
}

ADVICE = {
    "no_outcome_evidence": "Did it happen? Confirm the outcome, or mark the no-show in Cal.com.",
    "suspicious_slot": "Open the booking in Cal.com: its time cannot be right.",
    "crm_missing_booking": "Update the lead in the CRM (or check the CRM's Cal.com sync).",
    "crm_stale_after_cancel": "Set the lead to cancelled in the CRM, or follow up to rebook.",
    "calcom_missing_booking": ("Check the booking in Cal.com: a webhook may have been missed "
                               "(the Cal.com API sync repairs this when configured)."),
    "outcome_conflict": "Find out what happened and confirm it; then correct the CRM.",
    "unattributed_booking": ("Add the booker to the CRM, or put ?metadata[leadId]= on the "
                             "booking link."),
}

TERMS = {
    "book_rate": "Leads created this week who booked within 14 days, out of all eligible "
                 "leads created this week.",
    "no_show_rate": "Meetings this week the attendee missed, out of meetings with a known "
                    "outcome (completed or missed). Meetings without an outcome yet are not "
                    "counted.",
    "reschedule_rate": "Bookings made this week that were moved at least once.",
    "cancellation_rate": "Bookings made this week that are now cancelled.",
    "median_hours_to_book": "Half of this week's leads booked faster than this.",
    "unknown": "Leads whose CRM record has no source.",
    "unattributed": "Bookings that match no CRM lead (no lead id on the link, no matching "
                    "email).",
    "provisional": "These leads have had less than 14 days to book: the rate can still go up.",
    "small_sample": f"Fewer than {SMALL_SAMPLE} cases: one meeting more or less moves this a "
                    "lot.",
    "fallback": "Cal.com's events look incomplete, so completed and no-show numbers are not "
                "shown until someone confirms them.",
}


def plural(count: int | None, one: str, many: str | None = None) -> str:
    count = int(count or 0)
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def as_number(value: Any) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, Decimal | int | float) else float(str(value))


def percent(value: Any) -> str:
    number = as_number(value)
    if number is None:
        return "—"
    return f"{100 * number:.0f}%" if abs(100 * number - round(100 * number)) < 1e-9 else (
        f"{100 * number:.1f}%")


def rate_with_denominator(numerator: Any, denominator: Any) -> str:
    """``21.4% · 3 of 14``; a dash when there is nothing to divide by."""
    num, den = int(numerator or 0), int(denominator or 0)
    if den == 0:
        return "— · none yet"
    return f"{percent(num / den)} · {num:,} of {den:,}"


def is_small_sample(denominator: Any) -> bool:
    den = int(denominator or 0)
    return 0 < den < SMALL_SAMPLE


def hours(value: Any) -> str:
    """Time to book, always in hours (one unit everywhere): ``6 h``, ``43.7 h``."""
    number = as_number(value)
    if number is None:
        return "—"
    return f"{number:.0f} h" if abs(number - round(number)) < 0.05 else f"{number:.1f} h"


def points(value: Any) -> str:
    """A change of a rate, in percentage points: ``+5 pts``, ``−2.3 pts``."""
    number = as_number(value)
    if number is None:
        return "—"
    pts = 100 * number
    text = f"{abs(pts):.0f}" if abs(pts - round(pts)) < 0.05 else f"{abs(pts):.1f}"
    if text in ("0", "0.0"):
        return "±0 pts"
    return f"{'+' if pts > 0 else '−'}{text} pts"


def hours_change(value: Any) -> str:
    number = as_number(value)
    if number is None:
        return "—"
    if abs(number) < 0.05:
        return "±0 h"
    return f"{'+' if number > 0 else '−'}{hours(abs(number))}"


def change_tone(value: Any, lower_is_better: bool, *, in_progress: bool = False) -> str:
    """good / bad / neutral; a week still in progress is never called good or bad."""
    number = as_number(value)
    if in_progress or number is None or abs(number) < 1e-12:
        return "neutral"
    good = (number < 0) if lower_is_better else (number > 0)
    return "good" if good else "bad"


def week_status(week_start: date, as_of: datetime | date) -> dict[str, Any]:
    """Whether the week is complete, in progress (with the days left) or not started."""
    today = as_of.date() if isinstance(as_of, datetime) else as_of
    end = week_start + timedelta(days=7)
    if today >= end:
        return {"state": "complete", "days_left": 0, "label": ""}
    if today < week_start:
        return {"state": "future", "days_left": 7, "label": "not started yet"}
    left = (end - today).days
    return {"state": "in_progress", "days_left": left,
            "label": f"week so far, {plural(left, 'day')} left"}


def outcome_label(outcome: str | None) -> str:
    return OUTCOME_LABELS.get(outcome or "", (outcome or "").replace("_", " "))


def reason_label(reason: str | None) -> str:
    return REASON_LABELS.get(reason or "", (reason or "").replace("_", " "))


def source_label(source: str) -> str:
    return {"all": "All sources", "unknown": "Unknown source",
            "unattributed": "No lead (unattributed)"}.get(source, source)


def refusals_line(wrong_signatures: int, unsigned: int) -> str:
    """What the last 7 days' refused requests mean to the owner. They never decide
    whether the numbers can be trusted: anyone can send a signature header, and a real
    secret mismatch shows where it matters, as bookings the CRM has and Cal.com lacks."""
    parts = []
    if wrong_signatures:
        parts.append(f"{plural(wrong_signatures, 'delivery', 'deliveries')} with a wrong "
                     "signature in 7 days: if you rotated the Cal.com webhook secret, add "
                     "the new one to CALCOM_WEBHOOK_SECRETS")
    if unsigned:
        parts.append(f"{plural(unsigned, 'unsigned request')} from elsewhere (ignored)")
    return "; ".join(parts)
