-- Raw landing tables. Append-only; owned by the ingester. dbt reads them, never writes.
create schema if not exists raw;

create table if not exists raw.calcom_webhook_events (
    event_id         bigint generated always as identity primary key,
    received_at      timestamptz not null default now(),
    trigger_event    text,
    raw_body         bytea not null,
    payload          jsonb,
    parse_error      text,
    body_sha256      text not null unique,
    webhook_version  text,
    secret_index     integer,
    source           text not null default 'webhook' check (source in ('webhook', 'import'))
);
create index if not exists calcom_webhook_events_received_at_idx
    on raw.calcom_webhook_events (received_at);

create table if not exists raw.calcom_rejected_deliveries (
    rejection_id     bigint generated always as identity primary key,
    received_at      timestamptz not null default now(),
    reason           text not null,
    status_code      integer not null,
    body_size        bigint,
    body_sha256      text,
    remote_addr      text
);
create index if not exists calcom_rejected_deliveries_received_at_idx
    on raw.calcom_rejected_deliveries (received_at);

create table if not exists raw.crm_snapshots (
    snapshot_id      bigint generated always as identity primary key,
    snapshot_at      timestamptz not null default now(),
    source_name      text not null,
    row_count        integer not null
);

create table if not exists raw.crm_lead_snapshots (
    snapshot_id      bigint not null references raw.crm_snapshots (snapshot_id),
    snapshot_at      timestamptz not null,
    lead_id          text not null,
    "row"            jsonb not null,
    created_at       timestamptz not null,
    email            text,
    name             text,
    source           text,
    status           text,
    booking_status   text,
    booking_uid      text,
    booked_at        timestamptz,
    invited_at       timestamptz,
    reminder_sent_at timestamptz,
    updated_at       timestamptz,
    primary key (snapshot_id, lead_id)
);
