"""The words and numbers every surface uses: plurals, units, rates with denominators,
small samples, the week in progress, and changes that are not judged too early."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from report import wording as w


@pytest.mark.parametrize("count,expected", [(0, "0 slots"), (1, "1 slot"), (2, "2 slots"),
                                            (1234, "1,234 slots"), (None, "0 slots")])
def test_plural(count, expected):
    assert w.plural(count, "slot") == expected


def test_plural_with_an_irregular_form():
    assert w.plural(1, "delivery", "deliveries") == "1 delivery"
    assert w.plural(3, "delivery", "deliveries") == "3 deliveries"


@pytest.mark.parametrize("numerator,denominator,expected", [
    (3, 14, "21.4% · 3 of 14"), (1, 4, "25% · 1 of 4"), (0, 5, "0% · 0 of 5"),
    (14, 14, "100% · 14 of 14"), (0, 0, "— · none yet"), (None, None, "— · none yet"),
    (1500, 3000, "50% · 1,500 of 3,000"),
])
def test_rate_with_its_denominator(numerator, denominator, expected):
    assert w.rate_with_denominator(numerator, denominator) == expected


@pytest.mark.parametrize("denominator,small", [(0, False), (1, True), (9, True), (10, False),
                                               (None, False)])
def test_small_samples_are_fewer_than_ten_cases(denominator, small):
    assert w.is_small_sample(denominator) is small


@pytest.mark.parametrize("value,expected", [(Decimal("6"), "6 h"), (43.71, "43.7 h"),
                                            (0.5, "0.5 h"), (72.0, "72 h"), (None, "—")])
def test_time_to_book_is_always_in_hours(value, expected):
    assert w.hours(value) == expected


@pytest.mark.parametrize("value,expected", [(Decimal("0.05"), "+5 pts"), (-0.023, "−2.3 pts"),
                                            (0, "±0 pts"), (None, "—"), (0.0001, "±0 pts")])
def test_changes_of_rates_are_percentage_points(value, expected):
    assert w.points(value) == expected


def test_only_a_clear_change_of_a_complete_week_is_better_or_worse():
    assert w.change_tone(-0.2, lower_is_better=True, clear=True) == "good"
    assert w.change_tone(0.2, lower_is_better=True, clear=True) == "bad"
    assert w.change_tone(0.2, lower_is_better=False, clear=True) == "good"
    # the same change, within normal variation: grey
    assert w.change_tone(0.4, lower_is_better=True, clear=False) == "neutral"
    assert w.change_tone(-0.2, lower_is_better=True, clear=True, in_progress=True) == "neutral"
    assert w.change_tone(None, lower_is_better=False, clear=False) == "neutral"
    assert w.change_note(0.4, clear=False) == "within normal variation"
    assert w.change_note(0.4, clear=True) == "a clear change"
    assert w.change_note(0.4, clear=True, in_progress=True) == "week not over"
    assert w.change_note(None, clear=False) == ""


@pytest.mark.parametrize("verdict,sentence", [
    (None, "Too few meetings to tell yet: 0 meetings with a reminder and 0 without"),
    ({"verdict": "too few meetings", "meetings_reminded": 12, "meetings_not_reminded": 40},
     "Too few meetings to tell yet: 12 meetings with a reminder and 40 without"),
    ({"verdict": "lower", "meetings_reminded": 900, "meetings_not_reminded": 940,
      "difference": Decimal("-0.032"), "difference_low": Decimal("-0.053"),
      "difference_high": Decimal("-0.011")},
     "Meetings with a reminder: 3.2 fewer no-shows per 100 (1.1 to 5.3), compared within "
     "booking lead-time bands, from 1,840 meetings."),
    ({"verdict": "no clear difference", "meetings_reminded": 30, "meetings_not_reminded": 35,
      "difference": Decimal("-0.01"), "difference_low": Decimal("-0.2"),
      "difference_high": Decimal("0.18")},
     "No clear difference yet: with a reminder, 1.0 fewer no-shows per 100, but anywhere "
     "from -20.0 to +18.0 is possible"),
])
def test_the_reminder_sentence_speaks_from_the_verdict(verdict, sentence):
    assert sentence in w.reminder_sentence(verdict)


def test_one_lost_webhook_figure():
    synced = {"recent_chains": 40, "api_sync_status": "ok", "webhook_loss_share": 0.225,
              "incomplete_history_share": 0}
    assert w.lost_webhooks_line(synced) == (
        "webhooks missed 22.5% of 40 bookings (the Cal.com sync repaired them)")
    alone = {"recent_chains": 1, "api_sync_status": "not_configured",
             "webhook_loss_share": None, "incomplete_history_share": 0.1}
    assert w.lost_webhooks_line(alone) == (
        "10% of 1 booking is missing its first webhook")
    alone["recent_chains"] = 30
    assert w.lost_webhooks_line(alone) == (
        "10% of 30 bookings are missing their first webhook")
    assert w.count_of(0, 0, "meeting") == "no meetings yet"
    assert w.count_of(2, 5, "meeting with an outcome", "meetings with an outcome") == (
        "2 of 5 meetings with an outcome")


@pytest.mark.parametrize("as_of,state,days_left,label", [
    (datetime(2026, 11, 23, 12, tzinfo=UTC), "in_progress", 7, "week so far, 7 days left"),
    (datetime(2026, 11, 29, 23, tzinfo=UTC), "in_progress", 1, "week so far, 1 day left"),
    (datetime(2026, 11, 30, 0, tzinfo=UTC), "complete", 0, ""),
    (date(2026, 11, 20), "future", 7, "not started yet"),
])
def test_week_status(as_of, state, days_left, label):
    status = w.week_status(date(2026, 11, 23), as_of)
    assert (status["state"], status["days_left"], status["label"]) == (state, days_left, label)


def test_plain_labels_for_outcomes_reasons_and_sources():
    assert w.outcome_label("no_show") == "no-show"
    assert w.outcome_label("awaiting_outcome") == "awaiting an outcome"
    assert w.reason_label("crm_stale_after_cancel") == (
        "Cancelled in Cal.com, CRM still says booked")
    assert w.source_label("unattributed") == "No lead (unattributed)"
    assert all(reason in w.ADVICE for reason in w.REASON_LABELS)
