{#- The reconciliation's per-lead step (`reconciliation_gaps` reads it): every way a lead's
    CRM row disagrees with what Cal.com's events imply, before the grace period. A
    lead's rows depend only on its `dim_leads` row and its chains, so a batch rewrites
    the leads it touched (`int_changed_leads`) and no other: the grace period and the
    age, which move with as_of, are applied in `reconciliation_gaps`. Each gap type is
    judged on its own. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_scope('lead_id', 'int_changed_leads') }}",
    indexes=[{'columns': ['lead_id']}],
) }}

-- depends_on: {{ ref('int_changed_leads') }}

with

leads as not materialized (

    select * from {{ ref('dim_leads') }}
    {% if is_incremental() %}
    where lead_id in (select lead_id from {{ ref('int_changed_leads') }})
    {% endif %}

),

bookings as (

    select * from {{ ref('fct_bookings') }}
    {% if is_incremental() %}
    where lead_id in (select lead_id from {{ ref('int_changed_leads') }})
    {% endif %}

),

outcomes as (

    select * from {{ ref('int_booking_outcomes') }}

),

lead_chains as (

    select
        bookings.lead_id,
        bookings.booking_id,
        bookings.outcome,
        bookings.outcome_source,
        bookings.is_latest_for_lead,
        bookings.latest_calcom_event_at,
        outcomes.manual_confirmed_at

    from bookings
    inner join outcomes on outcomes.booking_id = bookings.booking_id
    where bookings.lead_id is not null

),

chain_counts as (

    select lead_id, count(*) as chain_count
    from lead_chains
    group by lead_id

),

-- each gap type is judged on its own (docs/design.md, "Exact rules"). The grace clock starts
-- at the later of the CRM row's change and the chain's latest Cal.com event; an
-- owner's confirmation moves it for outcome_conflict only.

crm_missing_booking as (

    -- any chain of the lead that is not cancelled or rejected, while the CRM shows no
    -- booking; the disagreement began with the earliest such chain
    select distinct on (leads.lead_id)
        leads.lead_id,
        lead_chains.booking_id,
        'crm_missing_booking' as gap_type,
        leads.crm_booking_status,
        lead_chains.outcome as calcom_state,
        greatest(leads.crm_status_changed_at, lead_chains.latest_calcom_event_at) as detected_at

    from leads
    inner join lead_chains on lead_chains.lead_id = leads.lead_id
    where lead_chains.outcome not in ('cancelled', 'rejected')
      and leads.crm_booking_status in ('none', 'invited', 'unknown')
    order by leads.lead_id,
        greatest(leads.crm_status_changed_at, lead_chains.latest_calcom_event_at) asc nulls first,
        lead_chains.booking_id

),

crm_stale_after_cancel as (

    select
        leads.lead_id,
        lead_chains.booking_id,
        'crm_stale_after_cancel' as gap_type,
        leads.crm_booking_status,
        lead_chains.outcome as calcom_state,
        greatest(leads.crm_status_changed_at, lead_chains.latest_calcom_event_at) as detected_at

    from leads
    inner join lead_chains
        on lead_chains.lead_id = leads.lead_id and lead_chains.is_latest_for_lead
    where lead_chains.outcome = 'cancelled'
      and leads.crm_booking_status in ('booked', 'rescheduled')

),

calcom_missing_booking as (

    select
        leads.lead_id,
        cast(null as text) as booking_id,
        'calcom_missing_booking' as gap_type,
        leads.crm_booking_status,
        'none' as calcom_state,
        leads.crm_status_changed_at as detected_at

    from leads
    left join chain_counts on chain_counts.lead_id = leads.lead_id
    where chain_counts.lead_id is null
      and leads.crm_booking_status in ('booked', 'rescheduled', 'completed', 'no_show')

),

outcome_conflict as (

    -- both sides state an outcome and they differ; an outcome taken from the CRM
    -- cannot conflict with the CRM
    select
        leads.lead_id,
        lead_chains.booking_id,
        'outcome_conflict' as gap_type,
        leads.crm_booking_status,
        lead_chains.outcome as calcom_state,
        greatest(leads.crm_status_changed_at, lead_chains.latest_calcom_event_at,
                 lead_chains.manual_confirmed_at) as detected_at

    from leads
    inner join lead_chains
        on lead_chains.lead_id = leads.lead_id and lead_chains.is_latest_for_lead
    where lead_chains.outcome_source in ('manual', 'calcom', 'calcom_api', 'cal_video')
      and lead_chains.outcome in ('completed', 'no_show')
      and leads.crm_booking_status in ('completed', 'no_show')
      and lead_chains.outcome <> leads.crm_booking_status

),

compared as (

    select * from crm_missing_booking
    union all
    select * from crm_stale_after_cancel
    union all
    select * from calcom_missing_booking
    union all
    select * from outcome_conflict

),

final as (

    select
        cast(lead_id || ':' || gap_type as text) as gap_id,
        cast(lead_id as text) as lead_id,
        cast(booking_id as text) as booking_id,
        cast(gap_type as text) as gap_type,
        cast(crm_booking_status as text) as crm_booking_status,
        cast(calcom_state as text) as calcom_state,
        cast(detected_at as timestamptz) as detected_at

    from compared
    where gap_type is not null

)

select * from final
