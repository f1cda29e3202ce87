-- Owner confirmations from the review queue. Applied by dbt at the next refresh.
create table if not exists raw.manual_outcomes (
    confirmation_id  bigint generated always as identity primary key,
    booking_id       text not null,
    outcome          text not null
        check (outcome in ('completed', 'no_show', 'host_no_show', 'cancelled')),
    confirmed_by     text not null,
    confirmed_at     timestamptz not null default now(),
    note             text
);
