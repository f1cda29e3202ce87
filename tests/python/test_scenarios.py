"""The scenario oracle: for many seeds, the marts equal the generator's ground truth.

Unit tests and data tests run once in `test_dbt_build_with_unit_tests`; each seed
then gets its own database, built without the unit tests.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import psycopg
import pytest
from helpers import create_database, drop_database
from oracle import mismatches
from reportkit import built_database

from booking_report.demo.landing import load_crm, load_manual_outcomes, store_bodies
from booking_report.demo.scenario import generate
from booking_report.refresh import refresh
from ingest.db import init_db

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SEEDS = [(seed, "UTC") for seed in range(1, 21)] + [
    (21, "Europe/Berlin"), (22, "America/New_York"), (23, "Asia/Kolkata")]



def build_scenario(dsn, sc, bodies, target_dir, *, unit_tests=False):
    init_db(dsn)
    store_bodies(dsn, bodies)
    load_crm(dsn, sc)
    load_manual_outcomes(dsn, sc)
    outcome = refresh(dsn, as_of=AS_OF.isoformat(),
                      variables={"report_timezone": sc.report_timezone},
                      target_dir=target_dir / sc.report_timezone.replace("/", "_"),
                      unit_tests=unit_tests)
    assert outcome.build.success, outcome.build.failures
    return outcome


def test_dbt_build_with_unit_tests(templates, target_dir):
    """One `dbt build` of every model, seed and data test and every unit test, as
    `refresh --unit-tests` runs it: on a copy of the report tests' scenario (built once
    per run), incremental, so the unit tests are most of its time."""
    dsn = built_database(templates, target_dir)
    try:
        outcome = refresh(dsn, as_of=AS_OF.isoformat(), target_dir=target_dir,
                          unit_tests=True)
        assert outcome.build.success, outcome.build.failures
        assert outcome.full_reason is None and outcome.only_changed is None
        assert outcome.build.count("model") >= 40 and outcome.build.count("seed") >= 2
        assert outcome.build.count("unit_test") >= 20
        assert outcome.build.count("unit_test", "pass") == outcome.build.count("unit_test")
        assert outcome.build.count("test", "fail") == 0
        assert outcome.build.count("test", "error") == 0
    finally:
        drop_database(dsn)


# the fast loop (scripts/test.sh --fast) keeps one seed; the suite runs them all
@pytest.mark.parametrize("seed,timezone", [
    pytest.param(seed, tz, id=f"seed{seed}-{tz}", marks=() if seed == 1 else pytest.mark.slow)
    for seed, tz in SEEDS])
def test_marts_equal_ground_truth(seed, timezone, target_dir):
    sc = generate(seed, as_of=AS_OF, report_timezone=timezone)
    expected = sc.expected()
    # the scenario must exercise the messy paths, or the comparison proves little
    outcomes = {b["outcome"] for b in expected["bookings"].values()}
    assert {"completed", "no_show", "cancelled", "needs_review", "upcoming"} <= outcomes
    dsn = create_database("broracle")
    try:
        build_scenario(dsn, sc, sc.bodies, target_dir)
        problems = mismatches(dsn, expected)
        assert problems == [], "\n".join(problems[:30])
    finally:
        drop_database(dsn)


MART_QUERIES = {
    "fct_bookings": "select * from reporting.fct_bookings order by booking_id",
    "dim_leads": "select * from reporting.dim_leads order by lead_id",
    "rpt_weekly_status": "select * from reporting.rpt_weekly_status order by 1, 2",
    "rpt_reminder_effect": "select * from reporting.rpt_reminder_effect order by 1",
    "reconciliation_gaps": "select * from reporting.reconciliation_gaps order by 1",
    "review_queue": "select * from reporting_private.review_queue order by 1",
    "rpt_followups": "select * from reporting_private.rpt_followups order by 1",
}


def snapshot_marts(dsn):
    with psycopg.connect(dsn) as conn:
        return {name: conn.execute(query).fetchall() for name, query in MART_QUERIES.items()}


@pytest.mark.slow
def test_arrival_order_and_duplicates_change_nothing(target_dir):
    sc = generate(7, as_of=AS_OF)
    rng = random.Random(2026)
    reordered = list(reversed(sc.bodies)) + rng.sample(sc.bodies, k=len(sc.bodies) // 3)
    rng.shuffle(reordered)
    first, second = create_database("brorder"), create_database("brorder")
    try:
        build_scenario(first, sc, sc.bodies, target_dir)
        build_scenario(second, sc, reordered, target_dir)
        a, b = snapshot_marts(first), snapshot_marts(second)
        for name in MART_QUERIES:
            assert a[name], f"{name} is empty: the comparison would prove nothing"
            assert a[name] == b[name], f"{name} differs with another arrival order"
    finally:
        drop_database(first)
        drop_database(second)


@pytest.mark.slow
def test_the_oracle_notices_a_wrong_number(target_dir):
    """Guard against a comparison that cannot fail: corrupt one stored value."""
    sc = generate(3, as_of=AS_OF)
    dsn = create_database("brguard")
    try:
        build_scenario(dsn, sc, sc.bodies, target_dir)
        expected = sc.expected()
        assert mismatches(dsn, expected) == []
        with psycopg.connect(dsn) as conn:
            conn.execute("update reporting.rpt_weekly_status set no_shows = no_shows + 1"
                         " where lead_source = 'all' and no_shows > 0"
                         " and week_start = (select min(week_start) from"
                         " reporting.rpt_weekly_status where no_shows > 0)")
            conn.execute("update reporting.fct_bookings set outcome = 'completed'"
                         " where booking_id = (select min(booking_id) from"
                         " reporting.fct_bookings where outcome = 'no_show')")
        problems = mismatches(dsn, expected)
        assert any("no_shows" in p for p in problems)
        assert any(p.startswith("booking ") and "'completed'" in p for p in problems)
    finally:
        drop_database(dsn)
