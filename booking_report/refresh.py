"""``booking-report refresh``: dbt build, freshness check, and a short summary."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
import yaml
from psycopg import sql
from psycopg.rows import dict_row

from booking_report import locks, selection
from booking_report.transform import PROJECT_DIR, BuildSummary, build
from ingest.db import init_db

# Two refreshes must not rebuild the same marts at once.
REFRESH_LOCK = locks.REFRESH
LOCK_POLL_SECONDS = 0.5


@dataclass
class RefreshOutcome:
    build: BuildSummary
    facts: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    # why this refresh rebuilt everything; None when it was incremental
    full_reason: str | None = None
    # an incremental refresh of only what changed: the models it ran, of how many
    only_changed: tuple[int, int] | None = None


def project_files_digest(folders: tuple[str, ...] = ("models", "macros", "seeds")) -> str:
    """A digest of the dbt project file and the files in ``folders``."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted((PROJECT_DIR / folder).rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(PROJECT_DIR)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    digest.update((PROJECT_DIR / "dbt_project.yml").read_bytes())
    return digest.hexdigest()


def settings_hash(variables: dict[str, Any]) -> str:
    """What the stored marts were computed with: the models, macros, seeds and project
    file, and every var but as_of. An incremental refresh is only exact on top of marts
    built with the same."""
    digest = hashlib.sha256(project_files_digest().encode())
    digest.update(json.dumps({k: v for k, v in variables.items() if k != "as_of"},
                             sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def full_refresh_reason(conn: psycopg.Connection, wanted_hash: str,
                        intermediate: str = "booking_intermediate") -> str | None:
    """Why the next refresh must rebuild everything, or None if it may be incremental
    (asked while the refresh holds its lock)."""
    log = conn.execute("select to_regclass(%s)", (f"{intermediate}.int_refresh_log",)
                       ).fetchone()[0]
    if log is None:
        return "first refresh"
    row = conn.execute(f"select settings_hash from {intermediate}.int_refresh_log"
                       " order by batch_no desc limit 1").fetchone()
    if row is None:
        return "first refresh"
    if row[0] != wanted_hash:
        return "models or settings changed since the last refresh"
    return None


# Models whose rows depend on neither the data nor the clock (the semantic layer's time
# spine: one row per day, 2015 to 2040), with the var naming their schema. An
# incremental refresh leaves one that exists as it is (a dbt node costs about half a
# second of a refresh even for a constant table); a full rebuild, and so any change to
# the models, builds them again.
CONSTANT_MODELS = {"metricflow_time_spine": "reporting_schema"}


def constant_models_present(conn: psycopg.Connection, variables: dict[str, Any]) -> list[str]:
    """The constant models that exist in the database, to leave out of the build (asked
    while the refresh holds its lock)."""
    return [name for name, schema_var in sorted(CONSTANT_MODELS.items())
            if conn.execute("select to_regclass(format('%%I.%%I', %s::text, %s::text))",
                            (variables.get(schema_var) or project_vars()[schema_var],
                             name)).fetchone()[0] is not None]


class _OnlyChanged:
    """The ``select`` of an incremental refresh of only what changed: which tracked raw
    tables have nothing new is asked under the refresh's lock; the models follow from the
    parsed project (booking_report/selection.py)."""

    def __init__(self, unchanged: set[tuple[str, str]], never: list[str]) -> None:
        self.unchanged = unchanged
        self.never = frozenset(never)
        self.counts: tuple[int, int] | None = None

    def __call__(self, manifest: Any) -> list[str]:
        names = selection.models_to_run(manifest, self.unchanged, self.never)
        total = sum(1 for node in manifest.nodes.values()
                    if str(node.resource_type) == "model")
        self.counts = (len(names), total)
        return names


def _only_changed(conn: psycopg.Connection, variables: dict[str, Any],
                  never: list[str]) -> _OnlyChanged:
    def schema(name: str) -> str:
        return variables.get(name) or project_vars()[name]

    last_batch = conn.execute(sql.SQL("select coalesce(max(batch_no), 0) from {}").format(
        sql.Identifier(schema("intermediate_schema"), "int_refresh_log"))).fetchone()[0]
    return _OnlyChanged(selection.unchanged_sources(
        conn, raw_schema=schema("raw_schema"), staging_schema=schema("staging_schema"),
        last_batch=last_batch), never)


class RefreshBusy(RuntimeError):
    pass


class RefreshConfigError(ValueError):
    """A setting for the refresh is invalid (nothing was built)."""


@cache
def project_vars() -> dict[str, Any]:
    with open(PROJECT_DIR / "dbt_project.yml", encoding="utf-8") as fh:
        return dict(yaml.safe_load(fh).get("vars") or {})


KNOWN_VARS = frozenset(project_vars()) - {"as_of"}


def settings(variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dbt vars of a refresh: BOOKING_REPORT_TIMEZONE, then explicit ones; checked
    here so a typo is one clear line, not a dbt stack trace halfway through a build."""
    merged: dict[str, Any] = {}
    zone_env = os.environ.get("BOOKING_REPORT_TIMEZONE", "").strip()
    if zone_env:
        merged["report_timezone"] = zone_env
    merged.update(variables or {})
    unknown = set(merged) - KNOWN_VARS - {"as_of"}
    if unknown:
        raise RefreshConfigError(f"unknown setting {', '.join(sorted(unknown))}; known: "
                                 f"{', '.join(sorted(KNOWN_VARS))}")
    zone = merged.get("report_timezone")
    if zone is not None:
        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError):
            raise RefreshConfigError(f"report timezone {zone!r} is not an IANA zone name "
                                     "such as Europe/Berlin or America/New_York") from None
        if "'" in str(zone):
            raise RefreshConfigError(f"report timezone {zone!r} is not a zone name")
    for name, value in merged.items():
        default = project_vars().get(name)
        if isinstance(default, int | float) and not isinstance(default, bool) and not (
                isinstance(value, int | float) and not isinstance(value, bool)):
            raise RefreshConfigError(f"setting {name} must be a number, not {value!r}")
    return merged


def mart_facts(dsn: str, reporting: str = "reporting",
               private: str = "reporting_private") -> dict[str, Any]:
    with psycopg.connect(dsn, prepare_threshold=None) as conn:
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
        facts["feed"] = conn.cursor(row_factory=dict_row).execute(
            f"select recovered_bookings_28d, recovered_changes_28d, webhook_loss_share,"
            f" api_sync_status, last_sync_at from {reporting}.feed_health").fetchone()
        facts["feed_problems"] = dict(conn.execute(
            f"select problem, count(*) from {reporting}.feed_problems group by problem"
            " order by count(*) desc, problem").fetchall())
    return facts


def refresh(dsn: str, *, as_of: str | None = None, full_refresh: bool = False,
            variables: dict[str, Any] | None = None, target_dir: Path | None = None,
            unit_tests: bool = False, wait: bool = True,
            only_changed: bool = False) -> RefreshOutcome:
    """Run one refresh, one at a time per database.

    The lock is a transaction-level advisory lock, held by a transaction kept open on a
    connection of its own for the whole build: it holds through a transaction-mode
    pooler (Supabase's, pgbouncer), where a session-level lock and its unlock could run
    on different server connections. That transaction takes no other lock (the build's
    own DDL would wait for it); the refresh's questions go over another connection.

    Unit tests check the SQL's logic, not the data: CI runs them (and `--unit-tests`
    or the demo); a production refresh builds and runs the data tests only.

    ``only_changed``: an incremental refresh runs only the models whose result can
    change, and their data tests (booking_report/selection.py); the scheduled refresh
    runs everything, every data test included."""
    merged = settings(variables)
    init_db(dsn)
    if as_of:
        merged["as_of"] = as_of
    merged["settings_hash"] = settings_hash(merged)
    with psycopg.connect(dsn, prepare_threshold=None,
                         application_name="booking-report refresh lock") as lock_conn:
        # try, and while another refresh holds the lock end the transaction and try
        # again: a transaction blocked in pg_advisory_xact_lock would hold one of a
        # pooler's server connections the whole time (with a small pool, the ones the
        # running refresh needs)
        while not lock_conn.execute("select pg_try_advisory_xact_lock(%s)",
                                    (REFRESH_LOCK,)).fetchone()[0]:
            lock_conn.rollback()
            if not wait:
                raise RefreshBusy("a refresh is already running")
            time.sleep(LOCK_POLL_SECONDS)
        try:
            with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as ask:
                reason = "--full-refresh" if full_refresh else full_refresh_reason(
                    ask, merged["settings_hash"], merged.get("intermediate_schema")
                    or project_vars()["intermediate_schema"])
                exclude = None if reason else constant_models_present(ask, merged)
                select = None
                if only_changed and not reason:
                    select = _only_changed(ask, merged, exclude or [])
            summary = build(dsn, variables=merged, full_refresh=reason is not None,
                            unit_tests=unit_tests, target_dir=target_dir, exclude=exclude,
                            select=select)
        finally:
            lock_conn.rollback()  # ends the transaction: the lock is released
    outcome = RefreshOutcome(summary, full_reason=reason,
                             only_changed=select.counts if select else None)
    if summary.success:
        outcome.facts = mart_facts(dsn)
    return outcome


def print_summary(outcome: RefreshOutcome, stream=sys.stdout) -> None:
    b = outcome.build
    models = b.count("model")
    tests = b.count("test") + b.count("unit_test")
    passed = b.count("test", "pass") + b.count("unit_test", "pass")
    warned = b.count("test", "warn")
    mode = (f"full rebuild ({outcome.full_reason})" if outcome.full_reason
            else "incremental")
    if outcome.only_changed and not outcome.full_reason:
        ran, total = outcome.only_changed
        mode += f", only what changed: {ran} of {total} models"
    print(f"refresh {'succeeded' if b.success else 'FAILED'} ({mode}): {models} models "
          f"built, {b.count('seed')} seeds, {passed}/{tests} tests passed"
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
        if f.get("feed"):
            from report.data import recovery_line, sync_warning

            recovered, warning = recovery_line(f["feed"]), sync_warning(f["feed"])
            if recovered:
                print(f"  {recovered}", file=stream)
            if warning:
                print(f"  warning: {warning}", file=stream)
        problems = f.get("feed_problems") or {}
        if problems:
            total = sum(problems.values())
            listed = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in problems.items())
            print(f"  warning: {total} feed problem{'s' if total != 1 else ''} kept out of the "
                  f"numbers ({listed}): see reporting.feed_problems", file=stream)
