"""`booking-report sync-calcom` and the sync step of `refresh`: configuration from the
environment, progress and summary lines. The key is read from the environment only and
never printed, logged or stored."""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime, time

import psycopg

from ingest.calcom_api import (
    DEFAULT_BASE_URL,
    DEFAULT_REQUESTS_PER_MINUTE,
    DEFAULT_VERSION,
    CalcomApi,
    check_version,
)
from ingest.calcom_sync import SyncSummary, sync


class SyncNotConfigured(RuntimeError):
    pass


def configured(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return bool(env.get("CALCOM_API_KEY", "").strip())


def api_from_env(environ: dict[str, str] | None = None) -> CalcomApi:
    env = os.environ if environ is None else environ
    key = env.get("CALCOM_API_KEY", "").strip()
    if not key:
        raise SyncNotConfigured(
            "CALCOM_API_KEY is not set: create a key in Cal.com → Settings → Developer → "
            "API keys (read access to bookings is enough) and export it")
    version = check_version(env.get("CALCOM_API_VERSION", "").strip() or DEFAULT_VERSION)
    budget = (env.get("CALCOM_API_REQUESTS_PER_MINUTE", "").strip()
              or str(DEFAULT_REQUESTS_PER_MINUTE))
    try:
        per_minute = int(budget)
    except ValueError:
        raise SyncNotConfigured(f"CALCOM_API_REQUESTS_PER_MINUTE must be a whole number, "
                                f"not {budget!r}") from None
    return CalcomApi(env.get("CALCOM_API_URL", DEFAULT_BASE_URL).strip() or DEFAULT_BASE_URL,
                     key, version, requests_per_minute=per_minute,
                     say=lambda line: print(line, file=sys.stderr, flush=True))


def since_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text.strip()), time(0), tzinfo=UTC)
    except ValueError:
        raise SyncNotConfigured(f"--since {text!r} is not a date like 2026-08-01") from None


def last_success(dsn: str) -> datetime | None:
    """When the last sync that succeeded finished (None: never, or before init-db)."""
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
        if conn.execute("select to_regclass('raw.calcom_api_sync_runs')").fetchone()[0] is None:
            return None
        return conn.execute("select max(finished_at) from raw.calcom_api_sync_runs"
                            " where status = 'succeeded'").fetchone()[0]


def run_sync(dsn: str, *, since: datetime | None = None, full: bool = False,
             api: CalcomApi | None = None, stream=sys.stderr,
             now=lambda: datetime.now(UTC)) -> SyncSummary:
    api = api or api_from_env()
    interactive = stream.isatty()

    def progress(summary: SyncSummary) -> None:
        line = (f"syncing from Cal.com ({api.version}): {summary.pages} pages, "
                f"{summary.bookings_seen} bookings, {summary.new_snapshots} new snapshots")
        stream.write(("\r" + line) if interactive else (line + "\n"))
        stream.flush()

    summary = sync(dsn, api, since=since, full=full, progress=progress, now=now)
    if interactive:
        stream.write("\n")
    return summary


def summary_line(summary: SyncSummary) -> str:
    odd = f", {summary.odd_bookings} without a uid (listed as feed problems)" \
        if summary.odd_bookings else ""
    return (f"Cal.com sync ({summary.mode}, API {summary.api_version}): {summary.pages} pages, "
            f"{summary.bookings_seen} bookings seen, {summary.new_snapshots} new snapshots"
            f"{odd}; {summary.revealed_bookings} bookings and {summary.revealed_changes} "
            "changes no webhook delivered")
