-- The inserting transaction's id on every Cal.com body, so a refresh finds the bodies it
-- has not staged yet by index instead of reading every key ever received
-- (macros/incremental.sql, not_staged_yet). A row that commits after a refresh read the
-- table belongs to a transaction still running at that read, or started after it, so its
-- id is at least the oldest one that read saw running (the snapshot's xmin), which the
-- staging model stamps on the rows it stages. Identity values cannot give this: they
-- are handed out before commit, in any order.
--
-- Added without a rewrite (a column with a volatile default would rewrite the table and
-- hold its lock meanwhile): the rows already here keep a null, and the refresh that
-- follows an upgrade is a full rebuild (the settings hash covers the models), which
-- stages them all.
alter table raw.calcom_webhook_events add column if not exists inserted_xid xid8;
alter table raw.calcom_webhook_events alter column inserted_xid set default pg_current_xact_id();
create index if not exists calcom_webhook_events_inserted_xid_idx
    on raw.calcom_webhook_events (inserted_xid);

alter table raw.calcom_api_bookings add column if not exists inserted_xid xid8;
alter table raw.calcom_api_bookings alter column inserted_xid set default pg_current_xact_id();
create index if not exists calcom_api_bookings_inserted_xid_idx
    on raw.calcom_api_bookings (inserted_xid);
