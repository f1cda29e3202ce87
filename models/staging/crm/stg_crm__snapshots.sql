{#- One row per CRM snapshot loaded, stamped with the refresh batch that first saw it
    (macros/incremental.sql): which snapshots `int_crm_leads` has not applied yet. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['snapshot_id'], 'unique': true}, {'columns': ['batch_no']}],
) }}

select
    snapshot_id,
    snapshot_at,
    source_name,
    row_count,
    cast({{ this_batch() }} as integer) as batch_no

from {{ source('crm', 'crm_snapshots') }} as loaded
{% if is_incremental() %}
where not exists (
    select 1 from {{ this }} as staged where staged.snapshot_id = loaded.snapshot_id
)
{% endif %}
