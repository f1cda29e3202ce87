-- Warning: CRM status values the crm_status_map seed does not know (they count as
-- `unknown`). Add the spelling to seeds/crm_status_map.csv.
{{ config(severity='warn') }}
select lead_id, crm_booking_status_raw, crm_lead_status_raw
from {{ ref('int_crm_leads') }}
where has_unmapped_status
