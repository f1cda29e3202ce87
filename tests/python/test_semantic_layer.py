"""The semantic layer (dbt-metricflow) and the marts define every metric once: their
weekly numbers must be equal, in any report timezone and whatever MetricFlow's session
time zone (it truncates weeks in the session's zone; the semantic models count on
report-timezone dates, so it cannot drift)."""

from __future__ import annotations

import csv
import math
from datetime import UTC, date, datetime

import psycopg
import pytest
from helpers import create_database, drop_database
from psycopg.rows import dict_row

from booking_report import semantic
from booking_report.demo.landing import load_crm, load_manual_outcomes, store_bodies
from booking_report.demo.scenario import generate
from booking_report.refresh import refresh
from ingest.db import init_db

pytestmark = [pytest.mark.slow,
              # MetricFlow reads the project folder's own target/: one test at a time
              pytest.mark.xdist_group("semantic_layer")]

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BOOKING_METRICS = ["bookings_made", "rescheduled_bookings", "reschedule_rate",
                   "cancelled_bookings", "cancellation_rate", "meetings_scheduled",
                   "completed_meetings", "no_shows", "host_no_shows", "no_show_rate"]
LEAD_METRICS = ["eligible_leads", "booked_leads", "book_rate", "median_hours_to_book"]
MART_COLUMN = {"median_hours_to_book": "median_hours_to_book"}
RATES = {"reschedule_rate", "cancellation_rate", "no_show_rate", "book_rate",
         "median_hours_to_book"}


def same(mart_value, mf_text: str, metric: str) -> bool:
    if metric in RATES:
        if mart_value is None or mf_text == "":
            return mart_value is None and mf_text == ""
        return math.isclose(float(mart_value), float(mf_text), rel_tol=1e-9, abs_tol=1e-9)
    return int(mart_value) == int(float(mf_text or 0))


def mf_rows(dsn, metrics, group_by, path, **kwargs):
    result = semantic.query(dsn, metrics, group_by, csv=path, **kwargs)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("timezone,session_zone", [("UTC", "UTC"),
                                                    ("America/New_York", "Pacific/Auckland")])
def test_semantic_layer_weekly_numbers_equal_rpt_weekly_status(timezone, session_zone,
                                                               tmp_path):
    sc = generate(61, as_of=AS_OF, leads=300, report_timezone=timezone)
    dsn = create_database("brsemantic")
    try:
        init_db(dsn)
        store_bodies(dsn, sc.bodies)
        load_crm(dsn, sc)
        load_manual_outcomes(dsn, sc)
        outcome = refresh(dsn, as_of=AS_OF.isoformat(), unit_tests=False,
                          variables={"report_timezone": timezone},
                          target_dir=tmp_path / "dbt")
        assert outcome.build.success, outcome.build.failures
        with psycopg.connect(dsn, row_factory=dict_row) as conn:
            marts = {(r["week_start"], r["lead_source"]): r for r in conn.execute(
                "select * from reporting.rpt_weekly_status").fetchall()}
            by_host = {(r["week_start"], r["host_key"]): r for r in conn.execute(
                "select * from reporting.rpt_weekly_by_host").fetchall()}
        checks = [
            (BOOKING_METRICS, ["metric_time__week", "booking__lead_source"],
             "booking__lead_source", marts),
            (LEAD_METRICS, ["metric_time__week", "lead__lead_source"], "lead__lead_source",
             marts),
            (BOOKING_METRICS + LEAD_METRICS, ["metric_time__week"], None, marts),
            (BOOKING_METRICS, ["metric_time__week", "booking__host_key"], "booking__host_key",
             by_host),
        ]
        compared = rates_compared = 0
        for index, (metrics, group_by, key_column, table) in enumerate(checks):
            rows = mf_rows(dsn, metrics, group_by, tmp_path / f"q{index}.csv",
                           parse=index == 0, session_timezone=session_zone)
            assert rows, f"the semantic layer returned nothing for {group_by}"
            for row in rows:
                week = date.fromisoformat(row["metric_time__week"][:10])
                assert week.weekday() == 0, f"{week} is not a Monday in {timezone}"
                key = (week, row[key_column] if key_column else "all")
                mart = table.get(key)
                if mart is None:  # weeks outside the marts' spine carry no activity
                    assert all(row[m] in ("", "0", "0.0") for m in metrics), (key, row)
                    continue
                for metric in metrics:
                    got = row[metric]
                    want = mart[MART_COLUMN.get(metric, metric)]
                    assert same(want, got, metric), f"{key} {metric}: marts {want}, mf {got}"
                    compared += 1
                    rates_compared += metric in RATES and got != ""
        assert compared > 500 and rates_compared > 100
    finally:
        drop_database(dsn)


def test_the_semantic_layer_refuses_lead_metrics_by_host(raw_db, tmp_path):
    """A lead has no host: asking for the book rate by host is an error, not a number."""
    outcome = refresh(raw_db, as_of=AS_OF.isoformat(), unit_tests=False,
                      target_dir=tmp_path / "dbt")
    assert outcome.build.success
    result = semantic.query(raw_db, ["book_rate"], ["metric_time__week", "booking__host_key"])
    assert result.returncode != 0
    assert "does not match any of the available group-by-items" in result.stdout + result.stderr
