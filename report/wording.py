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
    "normal_variation": "Within normal variation: with this many cases, a change this size "
                        "often happens by chance (its 95% interval includes no change). Only "
                        "clear changes are coloured.",
    "clear_change": "A clear change: its 95% interval excludes no change, so chance alone "
                    "rarely moves the number this far.",
    "reminder_verdict": "Each reminded meeting is compared with meetings booked as far ahead "
                        "without a reminder (bookings made days ahead are missed more often "
                        "anyway); the range is the 95% interval.",
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


def change_tone(value: Any, lower_is_better: bool, *, clear: bool,
                in_progress: bool = False) -> str:
    """good / bad / neutral. Only a clear change (its 95% interval excludes no change:
    `is_<rate>_change_clear` in the marts) is good or bad; a week still in progress
    never is."""
    number = as_number(value)
    if not clear or in_progress or number is None or abs(number) < 1e-12:
        return "neutral"
    good = (number < 0) if lower_is_better else (number > 0)
    return "good" if good else "bad"


def change_note(value: Any, *, clear: bool, in_progress: bool = False) -> str:
    """What a change means, in words beside it."""
    if as_number(value) is None:
        return ""
    if in_progress:
        return "week not over"
    return "a clear change" if clear else "within normal variation"


def count_of(numerator: Any, denominator: Any, noun: str, plural_noun: str | None = None
             ) -> str:
    """``2 of 5 meetings``; ``no meetings yet`` when there is nothing to count."""
    den = int(denominator or 0)
    if den == 0:
        return f"no {plural_noun or noun + 's'} yet"
    return f"{int(numerator or 0):,} of {plural(den, noun, plural_noun)}"


def reminder_sentence(verdict: dict[str, Any] | None) -> str:
    """The reminder verdict (reporting.rpt_reminder_verdict) in one sentence."""
    if not verdict or verdict.get("verdict") == "too few meetings":
        reminded = int((verdict or {}).get("meetings_reminded") or 0)
        others = int((verdict or {}).get("meetings_not_reminded") or 0)
        return ("Too few meetings to tell yet: "
                f"{plural(reminded, 'meeting')} with a reminder and {others:,} without have an "
                "outcome (at least 20 of each are needed).")
    total = int(verdict["meetings_reminded"]) + int(verdict["meetings_not_reminded"])
    diff = 100 * float(verdict["difference"])
    low, high = 100 * float(verdict["difference_low"]), 100 * float(verdict["difference_high"])
    span = (f"({abs(high):.1f} to {abs(low):.1f})" if diff < 0
            else f"({low:.1f} to {high:.1f})")
    basis = f"compared within booking lead-time bands, from {total:,} meetings"
    if verdict["verdict"] == "lower":
        return (f"Meetings with a reminder: {abs(diff):.1f} fewer no-shows per 100 {span}, "
                f"{basis}.")
    if verdict["verdict"] == "higher":
        return (f"Meetings with a reminder: {diff:.1f} more no-shows per 100 {span}, "
                f"{basis}.")
    return (f"No clear difference yet: with a reminder, {abs(diff):.1f} "
            f"{'fewer' if diff < 0 else 'more'} no-shows per 100, but anywhere from "
            f"{low:+.1f} to {high:+.1f} is possible ({basis}).")


def lost_webhooks_line(feed: dict[str, Any] | None) -> str:
    """The one lost-webhook figure: what the Cal.com sync found webhooks missed, when it
    runs; else the bookings whose first webhook never came. Of the last 28 days: the
    callers say so once, before it."""
    if not feed:
        return ""
    recent = int(feed.get("recent_chains") or 0)
    if feed.get("api_sync_status") in ("ok", "stale"):
        return (f"webhooks missed {percent(feed.get('webhook_loss_share') or 0)} of "
                f"{plural(recent, 'booking')} (the Cal.com sync repaired them)")
    return (f"{percent(feed.get('incomplete_history_share') or 0)} of "
            f"{plural(recent, 'booking')} "
            + ("is missing its first webhook" if recent == 1
               else "are missing their first webhook"))


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
