-- Bookings read from Cal.com's API v2 by `booking-report sync-calcom` (GET only), to
-- repair what webhooks missed. One row per sync run, and one row per distinct booking
-- body as the API returned it (a later fetch of an unchanged booking adds nothing).
-- The API key is never stored.
create table if not exists raw.calcom_api_sync_runs (
    sync_run_id            bigint generated always as identity primary key,
    started_at             timestamptz not null default now(),
    finished_at            timestamptz,
    api_version            text not null,
    mode                   text not null check (mode in ('backfill', 'incremental', 'full')),
    status                 text not null default 'running'
        check (status in ('running', 'succeeded', 'failed')),
    pages                  integer not null default 0,
    bookings_seen          integer not null default 0,
    new_snapshots          integer not null default 0,
    -- the newest updatedAt / createdAt seen by a run that succeeded: the next run
    -- reads from there, less an overlap
    high_water_updated_at  timestamptz,
    high_water_created_at  timestamptz,
    error                  text
);

create table if not exists raw.calcom_api_bookings (
    snapshot_id      bigint generated always as identity primary key,
    sync_run_id      bigint not null references raw.calcom_api_sync_runs (sync_run_id),
    booking_uid      text,
    -- the snapshot states the booking's state at this time (docs/design.md)
    fetched_at       timestamptz not null,
    api_version      text not null,
    raw_body         bytea not null,
    payload          jsonb,
    body_sha256      text not null unique
);
create index if not exists calcom_api_bookings_uid_idx on raw.calcom_api_bookings (booking_uid);
create index if not exists calcom_api_bookings_fetched_at_idx
    on raw.calcom_api_bookings (fetched_at);
