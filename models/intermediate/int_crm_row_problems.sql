{#- The CRM rows the leads could not use (stg_crm__lead_snapshots: a value too long to be
    a key, an implausible time), with their export and row, for reporting.feed_problems.
    No contact data: the lead id, cut to 64 characters, and the reason. Kept
    incrementally: a refresh adds the unusable rows of the exports loaded since the last
    one (their ids written into the query as constants, so each export is read by its
    index; macros/incremental.sql). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['snapshot_id']}],
) }}

-- depends_on: {{ ref('stg_crm__snapshots') }}

{%- set new_ids = '' -%}
{%- if execute and is_incremental() -%}
    {%- set new_ids = run_query(
            "select coalesce(string_agg(cast(snapshot_id as text), ', '), '')"
            ~ " from " ~ ref('stg_crm__snapshots') ~ " where " ~ is_changed()).rows[0][0] -%}
{%- endif %}

with

exports as (

    select * from {{ ref('stg_crm__snapshots') }}

),

rows as (

    select * from {{ ref('stg_crm__lead_snapshots') }} as rows
    where rows.crm_row_problem is not null
    {% if is_incremental() %}
      and rows.snapshot_id in ({{ new_ids or 'null' }})
    {% endif %}

),

final as (

    select
        rows.snapshot_id,
        exports.snapshot_at,
        exports.source_name,
        rows.export_row,
        left(rows.lead_id, 64) || case when length(rows.lead_id) > 64 then '…' else '' end
            as lead_label,
        rows.crm_row_problem as problem,
        rows.crm_row_problem_detail as detail,
        cast({{ this_batch() }} as integer) as batch_no

    from rows
    inner join exports on exports.snapshot_id = rows.snapshot_id

)

select * from final
