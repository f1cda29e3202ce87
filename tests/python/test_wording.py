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


def test_a_week_in_progress_is_never_called_better_or_worse():
    assert w.change_tone(-0.2, lower_is_better=True) == "good"
    assert w.change_tone(0.2, lower_is_better=True) == "bad"
    assert w.change_tone(-0.2, lower_is_better=True, in_progress=True) == "neutral"
    assert w.change_tone(None, lower_is_better=False) == "neutral"


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
