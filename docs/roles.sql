-- Least-privilege roles for booking-report. Run as an administrator after
-- `booking-report init-db`; replace the passwords. Tested by tests/python/test_roles.py.

-- The receiver: lands deliveries and confirmations in raw; reads nothing else.
create role br_ingest login password 'change-me';
grant usage on schema raw to br_ingest;
grant insert on raw.calcom_webhook_events, raw.calcom_rejected_deliveries,
    raw.manual_outcomes to br_ingest;
-- ON CONFLICT (body_sha256) and RETURNING need select on those columns, and only those
grant select (event_id, body_sha256) on raw.calcom_webhook_events to br_ingest;
grant select (confirmation_id, confirmed_at) on raw.manual_outcomes to br_ingest;

-- The page: reads the marts only (dbt re-grants on every rebuild when the refresh
-- runs with BOOKING_REPORT_PAGE_ROLE=br_report).
create role br_report login password 'change-me';

-- BI tools: the BI-safe reporting schema only (BOOKING_REPORT_BI_ROLE=br_bi).
create role br_bi login password 'change-me';
