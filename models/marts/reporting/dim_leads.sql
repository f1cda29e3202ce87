{#- Kept incrementally: a batch rewrites the leads it touched (`int_changed_leads`: their
    CRM row changed, their chains were matched again, or their outcomes decided again). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='lead_id',
    on_schema_change='fail',
) }}

-- depends_on: {{ ref('int_changed_leads') }}
-- the old weeks of the rows about to change are read first (the weekly counts)
-- depends_on: {{ ref('int_replaced_lead_weeks') }}

with

leads as (

    select * from {{ ref('int_crm_leads') }}
    {% if is_incremental() %}
    where lead_id in (select lead_id from {{ ref('int_changed_leads') }})
    {% endif %}

),

bookings as not materialized (

    select * from {{ ref('fct_bookings') }}
    {% if is_incremental() %}
    where lead_id in (select lead_id from {{ ref('int_changed_leads') }})
    {% endif %}

),

lead_chains as (

    select
        lead_id,
        min(booked_at) as first_chain_booked_at,
        count(*) as chain_count

    from bookings
    where lead_id is not null
    group by lead_id

),

latest_chain as (

    select
        lead_id,
        booking_id as latest_booking_id,
        outcome as latest_outcome,
        is_rescheduled as latest_is_rescheduled

    from bookings
    where is_latest_for_lead

),

joined as (

    select
        leads.*,
        lead_chains.chain_count,
        latest_chain.latest_booking_id,
        latest_chain.latest_outcome,
        latest_chain.latest_is_rescheduled,
        -- Cal.com first; the CRM's booked_at only for a lead Cal.com shows nothing for
        coalesce(lead_chains.first_chain_booked_at, leads.crm_booked_at) as first_booked_at,
        lead_chains.lead_id is null and leads.crm_booked_at is not null
            as is_crm_only_booking

    from leads
    left join lead_chains on lead_chains.lead_id = leads.lead_id
    left join latest_chain on latest_chain.lead_id = leads.lead_id

),

final as (

    select
        cast(lead_id as text) as lead_id,
        cast(lead_source as text) as lead_source,
        cast(lead_created_at as timestamptz) as lead_created_at,
        cast({{ local_date('lead_created_at') }} as date) as lead_created_date,
        cast({{ week_start('lead_created_at') }} as date) as lead_created_week,
        cast(is_eligible as boolean) as is_eligible,
        cast(case
            when latest_booking_id is not null then
                case
                    when latest_outcome in ('upcoming', 'awaiting_outcome', 'pending')
                        then case when latest_is_rescheduled then 'rescheduled' else 'booked' end
                    when latest_outcome = 'completed' then 'completed'
                    when latest_outcome = 'no_show' then 'no_show'
                    when latest_outcome in ('cancelled', 'rejected') then 'cancelled'
                    else 'needs_review'
                end
            when crm_booking_status in
                ('invited', 'booked', 'rescheduled', 'completed', 'no_show', 'cancelled')
                then crm_booking_status
            else 'invited'
        end as text) as status,
        cast(crm_booking_status as text) as crm_booking_status,
        cast(first_booked_at as timestamptz) as first_booked_at,
        cast(case
            when first_booked_at is null then null
            else greatest(0, {{ hours_between('lead_created_at', 'first_booked_at') }})
        end as numeric) as hours_to_book,
        cast(
            first_booked_at is not null
            and first_booked_at <= lead_created_at
                + interval '1 day' * {{ var('book_window_days') }}
            as boolean
        ) as is_booked_within_window,
        cast(is_crm_only_booking as boolean) as is_crm_only_booking,
        cast(latest_booking_id as text) as latest_booking_id,
        cast(coalesce(chain_count, 0) as integer) as booking_count,
        cast(crm_status_changed_at as timestamptz) as crm_status_changed_at

    from joined

)

select * from final
