"""``booking-report refresh``: freshness check, dbt build, and a short summary."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from booking_report import locks
from booking_report.transform import BuildSummary, build
from ingest.db import init_db

# Two refreshes must not rebuild the same marts at once.
REFRESH_LOCK = locks.REFRESH


@dataclass
class RefreshOutcome:
    build: BuildSummary
    facts: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False


class RefreshBusy(RuntimeError):
    pass


def mart_facts(dsn: str, reporting: str = "reporting",
               private: str = "reporting_private") -> dict[str, Any]:
    with psycopg.connect(dsn) as conn:
        facts: dict[str, Any] = {}
        row = conn.execute(f"select status, status_reason from {reporting}.feed_health").fetchone()
        facts["feed_status"], facts["feed_reason"] = row if row else (None, None)
        facts["gaps"] = conn.execute(
            f"select count(*) from {reporting}.reconciliation_gaps").fetchone()[0]
        facts["review_items"] = conn.execute(
            f"select count(*) from {private}.review_queue").fetchone()[0]
        facts["bookings"] = conn.execute(
            f"select count(*) from {reporting}.fct_bookings").fetchone()[0]
        facts["leads"] = conn.execute(f"select count(*) from {reporting}.dim_leads").fetchone()[0]
    return facts


def refresh(dsn: str, *, as_of: str | None = None, full_refresh: bool = False,
            variables: dict[str, Any] | None = None, target_dir: Path | None = None,
            unit_tests: bool = True, wait: bool = True) -> RefreshOutcome:
    """Run one refresh under a Postgres advisory lock (one at a time per database)."""
    init_db(dsn)
    merged = dict(variables or {})
    if as_of:
        merged["as_of"] = as_of
    with psycopg.connect(dsn, autocommit=True) as lock_conn:
        if wait:
            lock_conn.execute("select pg_advisory_lock(%s)", (REFRESH_LOCK,))
        elif not lock_conn.execute("select pg_try_advisory_lock(%s)",
                                   (REFRESH_LOCK,)).fetchone()[0]:
            raise RefreshBusy("a refresh is already running")
        try:
            summary = build(dsn, variables=merged, full_refresh=full_refresh,
                            unit_tests=unit_tests, target_dir=target_dir)
        finally:
            lock_conn.execute("select pg_advisory_unlock(%s)", (REFRESH_LOCK,))
    outcome = RefreshOutcome(summary)
    if summary.success:
        outcome.facts = mart_facts(dsn)
    return outcome


def print_summary(outcome: RefreshOutcome, stream=sys.stdout) -> None:
    b = outcome.build
    models = b.count("model")
    tests = b.count("test") + b.count("unit_test")
    passed = b.count("test", "pass") + b.count("unit_test", "pass")
    warned = b.count("test", "warn")
    print(f"refresh {'succeeded' if b.success else 'FAILED'}: {models} models built, "
          f"{b.count('seed')} seeds, {passed}/{tests} tests passed"
          + (f", {warned} warnings" if warned else ""), file=stream)
    for line in b.stale_sources:
        print(f"  warning: source freshness: {line}", file=stream)
    for line in b.warnings:
        print(f"  warning: {line}", file=stream)
    for line in b.failures:
        print(f"  error: {line}", file=stream)
    if outcome.facts:
        f = outcome.facts
        reason = f" ({f['feed_reason']})" if f.get("feed_reason") else ""
        print(f"  {f['leads']} leads, {f['bookings']} bookings, {f['gaps']} reconciliation "
              f"gaps, {f['review_items']} review items, feed {f['feed_status']}{reason}",
              file=stream)
