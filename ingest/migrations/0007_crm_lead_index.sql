-- A lead's snapshot rows by time: the incremental CRM model rebuilds a lead from its
-- history only when a snapshot arrives out of order (older than one already processed).
create index if not exists crm_lead_snapshots_lead_idx
    on raw.crm_lead_snapshots (lead_id, snapshot_at);
