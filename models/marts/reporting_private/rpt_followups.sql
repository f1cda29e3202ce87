{{ config(indexes=[{'columns': ['start_at desc nulls last', 'booking_id']}]) }}
{#- Recent no-shows and cancellations to follow up (window: var followup_days), with
    contact details and whether the lead has booked again since. -#}
with

bookings as not materialized (

    select * from {{ ref('fct_bookings') }}

),

chains as not materialized (

    select * from {{ ref('int_booking_chains') }}

),

leads as (

    select * from {{ ref('int_crm_leads') }}

),

{%- set window_start = as_of() ~ " - interval '1 day' * " ~ var('followup_days') %}

recent_bookings as (

    -- the no-shows whose slot began, and the cancellations made, in the window: two
    -- branches, each read by an index on its own time column
    select bookings.*, bookings.start_at as followup_at
    from bookings
    where bookings.outcome = 'no_show'
      and bookings.start_at > {{ window_start }}
      and bookings.start_at <= {{ as_of() }}

    union all

    select bookings.*, bookings.latest_calcom_event_at as followup_at
    from bookings
    where bookings.outcome = 'cancelled'
      and bookings.latest_calcom_event_at > {{ window_start }}
      and bookings.latest_calcom_event_at <= {{ as_of() }}

),

recent as (

    select
        recent_bookings.*,
        chains.booker_email,
        chains.booker_name

    from recent_bookings
    inner join chains on chains.booking_id = recent_bookings.booking_id

),

later_bookings as (

    -- two plain equi-joins (by lead; by email when there is no lead) instead of one
    -- join on `<>` with an OR, which Postgres cannot hash and which grew with the
    -- square of the bookings. The lead's bookings are read by index, lead by lead
    -- (`offset 0` keeps the lateral read from being flattened into a hash join that
    -- reads every booking ever made: the window's rows, not the history, set the cost)
    select
        recent.booking_id,
        later.booking_id as rebooked_booking_id,
        later.booked_at as rebooked_at

    from recent
    cross join lateral (
        select lead_bookings.booking_id, lead_bookings.booked_at
        from bookings as lead_bookings
        where lead_bookings.lead_id = recent.lead_id
        offset 0
    ) as later
    where recent.lead_id is not null
      and later.booking_id <> recent.booking_id
      and later.booked_at > recent.booked_at

    union all

    select
        recent.booking_id,
        later_chain.booking_id as rebooked_booking_id,
        later_chain.booked_at as rebooked_at

    from recent
    inner join chains as later_chain on later_chain.booker_email = recent.booker_email
    where recent.lead_id is null
      and later_chain.booking_id <> recent.booking_id
      and later_chain.booked_at > recent.booked_at

),

rebooked as (

    select distinct on (booking_id)
        booking_id,
        rebooked_booking_id,
        rebooked_at

    from later_bookings
    order by booking_id, rebooked_at, rebooked_booking_id

),

final as (

    select
        cast(recent.booking_id as text) as booking_id,
        cast(recent.lead_id as text) as lead_id,
        {{ contact_details('leads', 'recent') }},
        cast(recent.lead_source as text) as lead_source,
        cast(recent.outcome as text) as outcome,
        cast(recent.start_at as timestamptz) as start_at,
        cast(recent.followup_at as timestamptz) as followup_at,
        cast(recent.cancellation_reason as text) as reason,
        cast(rebooked.rebooked_booking_id is not null as boolean) as has_rebooked,
        cast(rebooked.rebooked_booking_id as text) as rebooked_booking_id,
        cast({{ hours_between('recent.followup_at', 'rebooked.rebooked_at') }} as numeric)
            as hours_to_rebook

    from recent
    left join rebooked on rebooked.booking_id = recent.booking_id
    -- the lead's current row by its unique index, not a merge with every lead
    left join lateral (
        select lead_rows.lead_name, lead_rows.lead_email
        from leads as lead_rows
        where lead_rows.lead_id = recent.lead_id
        offset 0
    ) as leads on true

)

select * from final
