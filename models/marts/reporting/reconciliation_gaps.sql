{#- Per lead (eligible or not): does the CRM agree with what Cal.com's events imply?
    A disagreement younger than crm_sync_grace_minutes is a sync in flight, not a gap. -#}
with

leads as (

    select * from {{ ref('dim_leads') }}

),

bookings as (

    select * from {{ ref('fct_bookings') }}

),

outcomes as (

    select * from {{ ref('int_booking_outcomes') }}

),

latest_chain as (

    select
        bookings.lead_id,
        bookings.booking_id,
        bookings.outcome,
        bookings.outcome_source,
        greatest(bookings.latest_calcom_event_at, outcomes.manual_confirmed_at)
            as calcom_changed_at

    from bookings
    inner join outcomes on outcomes.booking_id = bookings.booking_id
    where bookings.is_latest_for_lead

),

compared as (

    select
        leads.lead_id,
        latest_chain.booking_id,
        leads.crm_booking_status,
        coalesce(latest_chain.outcome, 'none') as calcom_state,
        case
            when latest_chain.booking_id is not null
                and latest_chain.outcome not in ('cancelled', 'rejected')
                and leads.crm_booking_status in ('none', 'invited', 'unknown')
                then 'crm_missing_booking'
            when latest_chain.outcome = 'cancelled'
                and leads.crm_booking_status in ('booked', 'rescheduled')
                then 'crm_stale_after_cancel'
            when latest_chain.booking_id is null
                and leads.crm_booking_status in ('booked', 'rescheduled', 'completed', 'no_show')
                then 'calcom_missing_booking'
            when latest_chain.outcome_source in ('manual', 'calcom', 'cal_video')
                and latest_chain.outcome in ('completed', 'no_show')
                and leads.crm_booking_status in ('completed', 'no_show')
                and latest_chain.outcome <> leads.crm_booking_status
                then 'outcome_conflict'
        end as gap_type,
        greatest(leads.crm_status_changed_at, latest_chain.calcom_changed_at) as detected_at

    from leads
    left join latest_chain on latest_chain.lead_id = leads.lead_id

),

final as (

    select
        cast(lead_id || ':' || gap_type as text) as gap_id,
        cast(lead_id as text) as lead_id,
        cast(booking_id as text) as booking_id,
        cast(gap_type as text) as gap_type,
        cast(crm_booking_status as text) as crm_booking_status,
        cast(calcom_state as text) as calcom_state,
        cast(detected_at as timestamptz) as detected_at,
        cast({{ hours_between('detected_at', as_of()) }} as numeric) as gap_age_hours

    from compared
    where gap_type is not null
      and (
          detected_at is null
          or detected_at <= {{ as_of() }} - interval '1 minute' * {{ var('crm_sync_grace_minutes') }}
      )

)

select * from final
