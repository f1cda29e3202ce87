"""`booking-report sync-calcom`: land Cal.com's bookings (API v2, GET only) in `raw`.

Each booking object is stored as the API returned it, one row per distinct body
(`raw.calcom_api_bookings`), with the time it was fetched: the snapshot states the
booking's state at that time, and dbt merges it with the webhook events (docs/design.md,
"Recovering missed webhooks"). Each run is one row in `raw.calcom_api_sync_runs`.

Incremental: from the last successful run's high-water marks less an overlap (1 h),
one pass by `afterUpdatedAt` and one by `afterCreatedAt` (`updatedAt` may be null), and
one by slot time over the recent past (`afterStart` … `beforeEnd`, default 14 days: the
review and follow-up windows). That third pass is for what `updatedAt` hides: Cal.com's
booking `updatedAt` is Prisma's `@updatedAt`, moved only when the booking row itself is
written (`packages/prisma/schema.prisma`); marking attendees no-show, a Cal Video guest
no-show and adding or removing a seat write other rows, so an `afterUpdatedAt` pass never
reads those changes again, and a host who marks themselves absent sends no webhook at
all (`handleMarkNoShow.ts`). Its cost is bounded by recent meetings, not history: 100
meetings a week are 200 bookings in 14 days, one or two requests per run; 10,000 a week
are 20,000, 80 requests (take 250) or 200 (limit 100) per run, about a minute or two
at the default budget. The first run reads a backfill window (default 90 days); `--full`
reads everything. A page is landed in one transaction; a failed page fails the run
without moving the high-water marks, and a re-run is harmless (the body hash dedupes).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from ingest.calcom_api import CalcomApi, CalcomApiError
from ingest.db import connect

TRIGGERS_SEED = Path(__file__).resolve().parent.parent / "seeds" / "calcom_triggers.csv"

log = logging.getLogger("booking_report.ingest.calcom_sync")

OVERLAP = timedelta(hours=1)
DEFAULT_BACKFILL_DAYS = 90
# the slot-time pass: meetings that started in the last RECENT_DAYS (at least the review
# window, 1 day, and the follow-up window, 14 days, of the default settings)
DEFAULT_RECENT_DAYS = 14


@dataclass
class SyncSummary:
    sync_run_id: int
    mode: str
    api_version: str
    pages: int = 0
    bookings_seen: int = 0
    new_snapshots: int = 0
    odd_bookings: int = 0
    high_water_updated_at: datetime | None = None
    high_water_created_at: datetime | None = None
    passes: list[dict[str, str]] = field(default_factory=list)
    # among this run's new snapshots: bookings no creation webhook told us of, and
    # bookings whose state differs from what their webhooks said (a first count from
    # raw data; the refresh's feed health has the report's figures)
    revealed_bookings: int = 0
    revealed_changes: int = 0


class SyncFailed(RuntimeError):
    """The run failed; nothing after the last landed page was stored and the
    high-water marks did not move."""


def parse_instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def snapshot_body(booking: Any) -> bytes:
    """The booking object as returned (keys in the API's order, no reformatting of
    values), serialised once so equal objects give equal hashes."""
    return json.dumps(booking, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def last_marks(conn: psycopg.Connection) -> tuple[datetime | None, datetime | None]:
    row = conn.execute(
        "select max(high_water_updated_at), max(high_water_created_at)"
        " from raw.calcom_api_sync_runs where status = 'succeeded'").fetchone()
    return (row[0], row[1]) if row else (None, None)


def plan(conn: psycopg.Connection, *, now: datetime, since: datetime | None,
         full: bool, recent_days: int = DEFAULT_RECENT_DAYS) -> tuple[str, list[dict[str, str]]]:
    if full:
        return "full", [{}]
    updated, created = last_marks(conn)
    if updated is None and created is None:
        start = since or (now - timedelta(days=DEFAULT_BACKFILL_DAYS))
        # bookings created in the window, and older ones changed in it
        return "backfill", [{"afterCreatedAt": iso(start)}, {"afterUpdatedAt": iso(start)}]
    passes = []
    if updated is not None:
        passes.append({"afterUpdatedAt": iso(updated - OVERLAP)})
    if created is not None:
        passes.append({"afterCreatedAt": iso(created - OVERLAP)})
    # the recent meetings again, by slot time: the changes updatedAt does not show
    passes.append({"afterStart": iso(now - timedelta(days=recent_days)), "beforeEnd": iso(now)})
    return "incremental", passes


def lifecycle_triggers(seed: Path = TRIGGERS_SEED) -> dict[str, list]:
    """The webhook triggers that state a booking's lifecycle, read from the seed the
    models read (seeds/calcom_triggers.csv): one vocabulary for SQL and the sync."""
    with seed.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["lifecycle_state"]]
    if not rows:
        raise ValueError(f"{seed} names no lifecycle trigger")
    return {"triggers": [row["trigger_event"] for row in rows],
            "states": [row["lifecycle_state"] for row in rows],
            "creations": [row["is_creation"] == "true" for row in rows]}


LIFECYCLE_TRIGGERS = lifecycle_triggers()

# the bookings a sync run revealed (no creation webhook) and those whose state Cal.com
# reports differently from the last lifecycle webhook
REVEALED = """
with new_snapshots as (
    select distinct on (booking_uid)
        booking_uid,
        case
            when payload ->> 'rescheduledToUid' is not null then null
            when lower(payload ->> 'status') in ('accepted', 'cancelled', 'rejected')
                then lower(payload ->> 'status')
            when payload ->> 'status' is not null then 'pending'
        end as api_state
    from raw.calcom_api_bookings
    where sync_run_id = %(run_id)s and booking_uid is not null
    order by booking_uid, snapshot_id desc
),
lifecycle_webhooks as (
    select
        coalesce(payload -> 'payload' ->> 'uid', payload ->> 'uid') as booking_uid,
        triggers.lifecycle_state,
        triggers.is_creation,
        payload ->> 'createdAt' as sent_text,
        body_sha256
    from raw.calcom_webhook_events as events
    join unnest(%(triggers)s::text[], %(states)s::text[], %(creations)s::boolean[])
        as triggers (trigger_event, lifecycle_state, is_creation)
        on triggers.trigger_event = events.trigger_event
    where payload is not null
      -- a seat's cancellation is not its booking's (the booking stays accepted)
      and not (triggers.lifecycle_state = 'cancelled' and coalesce(
               jsonb_typeof(payload -> 'payload' -> 'seatsPerTimeSlot') = 'number', false))
),
webhook_state as (
    select distinct on (booking_uid)
        booking_uid,
        lifecycle_state as webhook_state,
        bool_or(is_creation) over (partition by booking_uid) as has_creation
    from lifecycle_webhooks
    where booking_uid in (select booking_uid from new_snapshots)
    order by booking_uid, sent_text desc, body_sha256 desc
)
select
    count(*) filter (where not coalesce(webhook_state.has_creation, false)),
    count(*) filter (where webhook_state.has_creation
                     and new_snapshots.api_state <> webhook_state.webhook_state)
from new_snapshots
left join webhook_state on webhook_state.booking_uid = new_snapshots.booking_uid
"""

INSERT_SNAPSHOT = """
insert into raw.calcom_api_bookings
    (sync_run_id, booking_uid, fetched_at, api_version, raw_body, payload, body_sha256)
values (%s, %s, %s, %s, %s, %s::jsonb, %s)
on conflict (body_sha256) do nothing
returning snapshot_id
"""


def sync(dsn: str, api: CalcomApi, *, since: datetime | None = None, full: bool = False,
         now: Callable[[], datetime] = lambda: datetime.now(UTC),
         progress: Callable[[SyncSummary], None] | None = None,
         recent_days: int = DEFAULT_RECENT_DAYS) -> SyncSummary:
    """One sync run; raises SyncFailed (after recording the failure) on any error."""
    with connect(dsn, autocommit=True) as conn:
        mode, passes = plan(conn, now=now(), since=since, full=full, recent_days=recent_days)
        run_id = conn.execute(
            "insert into raw.calcom_api_sync_runs (started_at, api_version, mode)"
            " values (%s, %s, %s) returning sync_run_id", (now(), api.version, mode)).fetchone()[0]
        summary = SyncSummary(run_id, mode, api.version, passes=passes)
        try:
            for filters in passes:
                for bookings in api.pages(filters):
                    _land(conn, api, bookings, summary, fetched_at=now())
                    summary.pages += 1
                    if progress:
                        progress(summary)
        except (CalcomApiError, psycopg.Error) as exc:
            message = str(exc)
            conn.execute("update raw.calcom_api_sync_runs set finished_at = %s,"
                         " status = 'failed', pages = %s, bookings_seen = %s,"
                         " new_snapshots = %s, error = %s where sync_run_id = %s",
                         (now(), summary.pages, summary.bookings_seen, summary.new_snapshots,
                          message[:2000], run_id))
            raise SyncFailed(message) from exc
        summary.revealed_bookings, summary.revealed_changes = conn.execute(
            REVEALED, {"run_id": run_id, **LIFECYCLE_TRIGGERS}).fetchone()
        conn.execute("update raw.calcom_api_sync_runs set finished_at = %s,"
                     " status = 'succeeded', pages = %s, bookings_seen = %s,"
                     " new_snapshots = %s, high_water_updated_at = %s,"
                     " high_water_created_at = %s where sync_run_id = %s",
                     (now(), summary.pages, summary.bookings_seen, summary.new_snapshots,
                      summary.high_water_updated_at, summary.high_water_created_at, run_id))
    return summary


def _land(conn: psycopg.Connection, api: CalcomApi, bookings: list[Any],
          summary: SyncSummary, *, fetched_at: datetime) -> None:
    """One page, all or nothing. Odd booking objects (no uid, odd fields) are landed
    too: the models list them as feed problems instead of dropping them."""
    rows = []
    for booking in bookings:
        body = snapshot_body(booking)
        uid = booking.get("uid") if isinstance(booking, dict) else None
        uid = uid.strip() if isinstance(uid, str) and uid.strip() else None
        if uid is None:
            summary.odd_bookings += 1
        payload = body.decode("utf-8") if isinstance(booking, dict) else None
        rows.append((summary.sync_run_id, uid, fetched_at, api.version, body, payload,
                     hashlib.sha256(body).hexdigest()))
        if isinstance(booking, dict):
            for key, attr in (("updatedAt", "high_water_updated_at"),
                              ("createdAt", "high_water_created_at")):
                stamp = parse_instant(booking.get(key))
                if stamp and stamp <= fetched_at + timedelta(days=1):
                    current = getattr(summary, attr)
                    setattr(summary, attr, stamp if current is None else max(current, stamp))
    with conn.transaction(), conn.cursor() as cur:
        new = 0
        for row in rows:
            try:
                with conn.transaction():
                    new += cur.execute(INSERT_SNAPSHOT, row).fetchone() is not None
            except psycopg.errors.DataError:  # a value jsonb refuses: keep the bytes
                with conn.transaction():
                    new += cur.execute(INSERT_SNAPSHOT, (*row[:5], None, row[6])
                                       ).fetchone() is not None
    summary.bookings_seen += len(bookings)
    summary.new_snapshots += new
