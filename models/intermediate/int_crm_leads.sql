{#- The current row of each CRM lead, with its statuses normalized through the
    `crm_status_map` seed. A lead missing from a newer snapshot keeps its last row. A
    status is dated by the first snapshot of the run of snapshots that showed it.

    One row per lead, kept incrementally (docs/decisions/incremental.md):
    a refresh applies only the snapshots loaded since the last one, to the leads whose
    row changed, on top of their current row (its status and the time that status was
    first seen). A lead is rebuilt from all its snapshots only when a snapshot arrives
    older than one already applied. `batch_no` is the batch in which the lead last
    changed (an unchanged row in a new snapshot changes nothing). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='lead_id',
    indexes=[
        {'columns': ['lead_id'], 'unique': true},
        {'columns': ['lead_email']},
        {'columns': ['batch_no']},
    ],
) }}

-- depends_on: {{ ref('stg_crm__snapshots') }}

with

status_map as not materialized (

    select * from {{ ref('crm_status_map') }}

),

{% if is_incremental() %}

{%- set new_snapshot_sql -%}
    select
        snapshot_id,
        -- older than a snapshot already applied: its leads are rebuilt from history
        coalesce((snapshot_at, snapshot_id) < (
            select applied.snapshot_at, applied.snapshot_id
            from {{ ref('stg_crm__snapshots') }} as applied
            where not {{ is_changed('applied.batch_no') }}
            order by applied.snapshot_at desc, applied.snapshot_id desc
            limit 1
        ), false) as is_out_of_order

    from {{ ref('stg_crm__snapshots') }}
    where {{ is_changed() }}
{%- endset %}

{#- Asked before the query is planned: the ids of the new snapshots older than one
    already applied (almost never any; then the rebuild branch is left out, so the
    planner does not sort a million new rows for an anti-join with a set it cannot know
    is empty), and the ids of the others. Both are written into the query as constants:
    the planner then reads their rows by what the table's statistics say about those
    ids, a scan when they are most of the table, by index when the table holds many
    older exports (it grows by one export a day). A join with the new snapshots would
    scan every export ever loaded. When dbt parses (no query), both branches are
    written. -#}
{%- set out_of_order_ids, in_order_ids = '0', '0' -%}
{%- if execute -%}
    {%- set out_of_order_ids, in_order_ids = run_query(
            "select coalesce(string_agg(cast(snapshot_id as text), ', ' order by snapshot_id)"
            ~ " filter (where is_out_of_order), ''),"
            ~ " coalesce(string_agg(cast(snapshot_id as text), ', ' order by snapshot_id)"
            ~ " filter (where not is_out_of_order), '')"
            ~ " from (" ~ new_snapshot_sql ~ ") as new_snapshots").rows[0] -%}
{%- endif %}

rebuilt_leads as (

    {% if out_of_order_ids %}
    select distinct rows.lead_id
    from {{ ref('stg_crm__lead_snapshots') }} as rows
    where rows.snapshot_id in ({{ out_of_order_ids }})
      and {{ usable_crm_row('rows') }}
    {% else %}
    select cast(null as text) as lead_id where false
    {% endif %}

),

new_rows as not materialized (

    -- rows of the new snapshots (in order) for the leads not rebuilt; read twice below,
    -- never copied whole: a daily export of a million leads is a million rows
    select rows.*
    from {{ ref('stg_crm__lead_snapshots') }} as rows
    where {% if in_order_ids %}rows.snapshot_id in ({{ in_order_ids }}){% else %}false{% endif %}
      and {{ usable_crm_row('rows') }}
      and not exists (select 1 from rebuilt_leads where rebuilt_leads.lead_id = rows.lead_id)

),

changed_leads as (

    -- a lead with a new row that says something its current row does not (or with no
    -- current row yet); every other lead is left alone (a daily export of a million
    -- leads is mostly those)
    select distinct new_rows.lead_id
    from new_rows
    left join {{ this }} as current_rows on current_rows.lead_id = new_rows.lead_id
    where current_rows.lead_id is null
       or (new_rows.crm_booking_uid, new_rows.lead_email, new_rows.lead_name,
           new_rows.lead_source, new_rows.crm_lead_status_raw, new_rows.crm_booking_status_raw,
           new_rows.lead_created_at, new_rows.crm_booked_at, new_rows.invited_at,
           new_rows.reminder_sent_at, new_rows.crm_updated_at)
          is distinct from
          (current_rows.crm_booking_uid, current_rows.lead_email, current_rows.lead_name,
           current_rows.lead_source, current_rows.crm_lead_status_raw,
           current_rows.crm_booking_status_raw, current_rows.lead_created_at,
           current_rows.crm_booked_at, current_rows.invited_at,
           current_rows.reminder_sent_at, current_rows.crm_updated_at)

),

snapshots as (

    -- all the new rows of the leads that changed (read again by primary key, lead by
    -- lead: `offset 0` keeps the planner from scanning the whole export a second
    -- time for what is usually a few hundred leads), and every row of the rebuilt leads
    select changed_rows.*
    from changed_leads
    cross join lateral (
        select new_rows.*
        from new_rows
        where new_rows.lead_id = changed_leads.lead_id
        offset 0
    ) as changed_rows

    union all

    select rows.*
    from {{ ref('stg_crm__lead_snapshots') }} as rows
    where rows.lead_id in (select lead_id from rebuilt_leads)
      and {{ usable_crm_row('rows') }}

),

{% else %}

snapshots as not materialized (

    select * from {{ ref('stg_crm__lead_snapshots') }} as rows
    where {{ usable_crm_row('rows') }}

),

{% endif %}

normalized as (

    select
        snapshots.*,
        booking_map.crm_state as booking_state,
        lead_map.crm_state as lead_state,
        coalesce(booking_map.is_eligible, true) and coalesce(lead_map.is_eligible, true)
            as is_eligible,
        (snapshots.crm_booking_status_raw is not null and booking_map.raw_value is null)
            or (snapshots.crm_lead_status_raw is not null and lead_map.raw_value is null)
            as has_unmapped_status

    from snapshots
    left join status_map as booking_map
        on booking_map.raw_value = {{ status_key('snapshots.crm_booking_status_raw') }}
    left join status_map as lead_map
        on lead_map.raw_value = {{ status_key('snapshots.crm_lead_status_raw') }}

),

with_state as (

    select
        *,
        snapshot_at as seen_from,
        false as is_prior,
        -- the booking field speaks first; the lead status only when it names a booking state
        case
            when crm_booking_status_raw is not null
                then coalesce(booking_state, 'unknown')
            when lead_state is not null and lead_state <> 'none' then lead_state
            when crm_lead_status_raw is not null and lead_state is null then 'unknown'
            else 'none'
        end as crm_booking_status

    from normalized

),

{% if is_incremental() %}
prior as (

    -- the current row of each lead with a new row, as the first step of its timeline:
    -- its status counts as seen from the time it was first seen
    select current_rows.*
    from {{ this }} as current_rows
    where current_rows.lead_id in (select lead_id from snapshots)
      and not exists (
          select 1 from rebuilt_leads where rebuilt_leads.lead_id = current_rows.lead_id)

),
{% endif %}

timeline as (

    select * from with_state

    {% if is_incremental() %}
    union all

    select
        cast(null as bigint) as snapshot_id,
        prior.lead_id,
        cast(null as integer) as export_row,
        prior.crm_booking_uid,
        prior.lead_email,
        prior.lead_name,
        prior.lead_source,
        prior.crm_lead_status_raw,
        prior.crm_booking_status_raw,
        -- before every new row (they are newer than any snapshot applied)
        cast('-infinity' as timestamptz) as snapshot_at,
        prior.lead_created_at,
        prior.crm_booked_at,
        prior.invited_at,
        prior.reminder_sent_at,
        prior.crm_updated_at,
        cast(null as text) as crm_row_problem,
        cast(null as text) as crm_row_problem_detail,
        cast(null as text) as booking_state,
        cast(null as text) as lead_state,
        prior.is_eligible,
        prior.has_unmapped_status,
        prior.status_first_seen_at as seen_from,
        true as is_prior,
        prior.crm_booking_status

    from prior
    {% endif %}

),

islands as (

    -- consecutive snapshots with the same normalized status form one island; the
    -- status is dated by the first snapshot of the latest island
    select
        *,
        sum(case when status_changed then 1 else 0 end) over (
            partition by lead_id order by snapshot_at, is_prior desc, snapshot_id
            rows between unbounded preceding and current row
        ) as status_island

    from (
        select
            *,
            crm_booking_status is distinct from lag(crm_booking_status) over (
                partition by lead_id order by snapshot_at, is_prior desc, snapshot_id
            ) as status_changed
        from timeline
    ) as flagged

),

ranked as (

    select
        *,
        min(seen_from) over (partition by lead_id, status_island) as status_first_seen_at,
        row_number() over (
            partition by lead_id order by snapshot_at desc, is_prior, snapshot_id desc
        ) as recency

    from islands

),

final as (

    select
        lead_id,
        lead_email,
        lead_name,
        lead_source,
        lead_created_at,
        is_eligible,
        crm_lead_status_raw,
        crm_booking_status_raw,
        crm_booking_status,
        has_unmapped_status,
        crm_booking_uid,
        crm_booked_at,
        invited_at,
        reminder_sent_at,
        crm_updated_at,
        status_first_seen_at,
        coalesce(crm_updated_at, status_first_seen_at) as crm_status_changed_at,
        cast({{ this_batch() }} as integer) as batch_no

    from ranked
    where recency = 1

)

select final.*
from final
{% if is_incremental() %}
-- a lead whose row the new snapshots leave as it was is not rewritten (nor changed)
where not exists (
    select 1 from prior
    where prior.lead_id = final.lead_id
      and (prior.lead_email, prior.lead_name, prior.lead_source, prior.lead_created_at,
           prior.is_eligible, prior.crm_lead_status_raw, prior.crm_booking_status_raw,
           prior.crm_booking_status, prior.has_unmapped_status, prior.crm_booking_uid,
           prior.crm_booked_at, prior.invited_at, prior.reminder_sent_at,
           prior.crm_updated_at, prior.status_first_seen_at)
          is not distinct from
          (final.lead_email, final.lead_name, final.lead_source, final.lead_created_at,
           final.is_eligible, final.crm_lead_status_raw, final.crm_booking_status_raw,
           final.crm_booking_status, final.has_unmapped_status, final.crm_booking_uid,
           final.crm_booked_at, final.invited_at, final.reminder_sent_at,
           final.crm_updated_at, final.status_first_seen_at)
)
{% endif %}
