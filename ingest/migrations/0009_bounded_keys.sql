-- Keys no value can break (docs/reliability.md, "One long field"). A btree index row
-- over about 2,700 bytes fails the statement that writes it, so a 3,000-character lead
-- id in a CRM export, or a 10,000-character uid from Cal.com's API, would fail the load
-- or the sync. The raw tables keep any value as received; their indexes cover the
-- values of a usable length (the staging models read only those, with the same
-- predicate, so the planner uses these indexes), and the longer ones by their digest.

-- CRM rows: the export's row number (load-crm names it in the feed problems)
alter table raw.crm_lead_snapshots add column if not exists row_number integer;

alter table raw.crm_lead_snapshots drop constraint if exists crm_lead_snapshots_pkey;
create unique index if not exists crm_lead_snapshots_snapshot_lead_key
    on raw.crm_lead_snapshots (snapshot_id, lead_id) where length(lead_id) <= 255;
create unique index if not exists crm_lead_snapshots_snapshot_long_lead_key
    on raw.crm_lead_snapshots (snapshot_id, md5(lead_id)) where length(lead_id) > 255;

drop index if exists raw.crm_lead_snapshots_lead_idx;
create index if not exists crm_lead_snapshots_lead_idx
    on raw.crm_lead_snapshots (lead_id, snapshot_at) where length(lead_id) <= 255;

drop index if exists raw.calcom_api_bookings_uid_idx;
create index if not exists calcom_api_bookings_uid_idx
    on raw.calcom_api_bookings (booking_uid) where length(booking_uid) <= 255;

-- every row of one export, whatever it holds (the feed problems read a new export's
-- unusable rows by it)
create index if not exists crm_lead_snapshots_snapshot_idx
    on raw.crm_lead_snapshots (snapshot_id);
