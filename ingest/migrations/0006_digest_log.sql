-- What `booking-report digest` sent: one row per week, source, channel and recipient,
-- so a scheduled digest is never sent twice (unless --force). Nothing is recorded for
-- a send that failed or a dry run.
create table if not exists raw.digest_deliveries (
    delivery_id   bigint generated always as identity primary key,
    week_start    date not null,
    lead_source   text not null,
    channel       text not null check (channel in ('email', 'slack')),
    recipient     text not null,
    sent_at       timestamptz not null default now(),
    message_id    text,
    forced        boolean not null default false
);
create index if not exists digest_deliveries_lookup_idx
    on raw.digest_deliveries (week_start, lead_source, channel, recipient);
