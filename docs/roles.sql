-- Least-privilege roles for booking-report. Run once, after `booking-report init-db`,
-- AS THE ROLE THAT OWNS THE SCHEMAS AND RUNS `booking-report refresh` (the "transform"
-- role; on Supabase: postgres), because the default privileges below apply to tables
-- that role creates. Replace the passwords. Tested by tests/python/test_roles.py.
-- If you renamed the schemas with dbt vars, rename them here too.

-- The receiver (`booking-report serve`): lands deliveries and confirmations in raw and
-- reads nothing else. It never runs DDL, so it needs no more than this.
create role br_ingest login password 'change-me';
grant usage on schema raw to br_ingest;
grant insert on raw.calcom_webhook_events, raw.calcom_rejected_deliveries,
    raw.manual_outcomes to br_ingest;
-- ON CONFLICT (body_sha256) and RETURNING need select on those columns, and only those
grant select (event_id, body_sha256) on raw.calcom_webhook_events to br_ingest;
grant select (confirmation_id, confirmed_at) on raw.manual_outcomes to br_ingest;
-- serve says at start-up whether the raw schema is up to date
grant select on raw.schema_migrations to br_ingest;

-- The page (BOOKING_REPORT_REPORT_DATABASE_URL): both mart schemas, nothing else.
create role br_report login password 'change-me';

-- BI tools: the BI-safe reporting schema only.
create role br_bi login password 'change-me';

-- The mart schemas, created now so their privileges are set once: every table or view
-- a later refresh builds (scheduled or manual, whatever its environment) is readable
-- by these roles, because Postgres applies the default privileges at creation.
create schema if not exists reporting;
create schema if not exists reporting_private;
grant usage on schema reporting to br_report, br_bi;
grant usage on schema reporting_private to br_report;
alter default privileges in schema reporting grant select on tables to br_report, br_bi;
alter default privileges in schema reporting_private grant select on tables to br_report;
-- and the marts that already exist
grant select on all tables in schema reporting to br_report, br_bi;
grant select on all tables in schema reporting_private to br_report;
