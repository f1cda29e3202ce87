{#- Kept incrementally (docs/decisions/incremental.md): a batch rewrites the
    chains whose outcome it decided again, and removes chains merged into another. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='booking_id',
    on_schema_change='fail',
    pre_hook="{{ delete_vanished_chains() }}",
    post_hook="{{ partial_index('booking_id', 'slot_problem is not null') }}",
    indexes=[{'columns': ['current_booking_uid'], 'unique': true}, {'columns': ['lead_id']},
             {'columns': ['booked_at']}, {'columns': ['start_at']},
             {'columns': ['latest_calcom_event_at']}],
) }}

-- depends_on: {{ ref('int_changed_chains') }}
-- the old weeks of the rows about to change are read first (the weekly counts)
-- depends_on: {{ ref('int_replaced_fact_weeks') }}

with

chains as (

    select * from {{ ref('int_booking_chains') }}
    {% if is_incremental() %}
    where booking_id in (
        select booking_id from {{ ref('int_booking_outcomes') }} where {{ is_changed() }})
    {% endif %}

),

outcomes as (

    select * from {{ ref('int_booking_outcomes') }}

),

matches as (

    select * from {{ ref('int_bookings_matched_to_leads') }}

),

leads as (

    select * from {{ ref('int_crm_leads') }}

),

joined as (

    select
        chains.*,
        matches.lead_id,
        matches.lead_match_method,
        matches.is_latest_for_lead,
        coalesce(leads.lead_source, 'unattributed') as lead_source,
        leads.reminder_sent_at,
        outcomes.outcome,
        outcomes.outcome_source,
        outcomes.slot_problem,
        -- a suspicious slot (year 9999, ends before it starts) has no week and no lead
        -- time: it goes to review, never into the weekly rates or the week spine
        case when outcomes.slot_problem is null then chains.start_at end as reportable_start_at,
        case when outcomes.slot_problem is null
            then {{ local_date('chains.start_at') }} - {{ local_date('chains.booked_at') }}
        end as lead_time_days

    from chains
    inner join outcomes on outcomes.booking_id = chains.booking_id
    inner join matches on matches.booking_id = chains.booking_id
    left join leads on leads.lead_id = matches.lead_id

),

final as (

    select
        cast(booking_id as text) as booking_id,
        cast(current_booking_uid as text) as current_booking_uid,
        cast(current_calcom_uid as text) as calcom_booking_uid,
        cast(is_seat as boolean) as is_seat,
        cast(lead_id as text) as lead_id,
        cast(lead_match_method as text) as lead_match_method,
        cast(is_latest_for_lead as boolean) as is_latest_for_lead,
        cast(lead_source as text) as lead_source,
        cast(event_type as text) as event_type,
        cast(event_type_id as text) as event_type_id,
        cast(event_type_title as text) as event_type_title,
        cast({{ host_key('host_user_id', 'host_email') }} as text) as host_key,
        cast({{ location_kind('location') }} as text) as location_kind,
        cast(case when slot_problem is null and end_at >= start_at
            then round(extract(epoch from end_at - start_at) / 60) end as integer)
            as duration_minutes,
        cast(booked_at as timestamptz) as booked_at,
        cast(start_at as timestamptz) as start_at,
        cast(end_at as timestamptz) as end_at,
        cast({{ local_date('booked_at') }} as date) as booked_date,
        cast({{ local_date('reportable_start_at') }} as date) as slot_date,
        cast({{ week_start('booked_at') }} as date) as booked_week,
        cast({{ week_start('reportable_start_at') }} as date) as slot_week,
        cast(lead_time_days as integer) as lead_time_days,
        cast(case
            when lead_time_days is null then null
            when lead_time_days <= 0 then 'same_day'
            when lead_time_days <= 2 then '1_2_days'
            when lead_time_days <= 7 then '3_7_days'
            when lead_time_days <= 14 then '8_14_days'
            else '15_plus_days'
        end as text) as lead_time_band,
        cast(reschedule_count as integer) as reschedule_count,
        cast(reschedule_count > 0 as boolean) as is_rescheduled,
        cast(booking_state as text) as booking_state,
        cast(outcome as text) as outcome,
        cast(outcome_source as text) as outcome_source,
        cast(slot_problem as text) as slot_problem,
        cast(cancellation_reason as text) as cancellation_reason,
        cast(case
            when outcome <> 'cancelled' then null
            when is_reschedule_request then 'host'
            when cancelled_by is null then 'unknown'
            when cancelled_by = host_email then 'host'
            when cancelled_by = booker_email then 'attendee'
            else 'other'
        end as text) as cancelled_by_role,
        cast(is_reschedule_request as boolean) as is_reschedule_request,
        cast(
            sms_reminder_number is not null
            or coalesce(reminder_sent_at >= booked_at and reminder_sent_at < start_at, false)
            as boolean
        ) as has_reminder,
        cast(has_incomplete_history as boolean) as has_incomplete_history,
        cast(
            has_booking_revealed_by_api or has_state_revealed_by_api
            or outcome_source = 'calcom_api'
            as boolean
        ) as recovered_from_api,
        cast(case
            when has_booking_revealed_by_api then 'booking'
            when has_state_revealed_by_api or outcome_source = 'calcom_api' then 'change'
        end as text) as api_recovery,
        cast(latest_calcom_event_at as timestamptz) as latest_calcom_event_at

    from joined

)

select * from final
