{#- Every Cal.com event kept out of the booking chains, with its reason, plus every
    chain whose current slot cannot be real. Bad data never stops a refresh and never
    vanishes: it is listed here (no contact data), counted by feed_health and shown on
    the page. -#}
with

events as not materialized (

    select * from {{ ref('int_webhook_events_checked') }}

),

snapshots as (

    select * from {{ ref('int_api_bookings_checked') }}

),

bookings as (

    select * from {{ ref('fct_bookings') }}

),

chains as (

    select * from {{ ref('int_booking_chains') }}

),

event_problems as (

    select
        'event:' || cast(event_id as text) as feed_problem_id,
        'webhook' as problem_source,
        event_id,
        trigger_event,
        feed_problem as problem,
        feed_problem_detail as detail,
        sent_at,
        received_at,
        booking_uid

    from events
    where feed_problem is not null

),

snapshot_problems as (

    -- a booking object from the API that cannot be used (same rule as webhooks)
    select
        'api:' || cast(snapshot_id as text) as feed_problem_id,
        'api' as problem_source,
        snapshot_id as event_id,
        'API_SNAPSHOT' as trigger_event,
        feed_problem as problem,
        feed_problem_detail as detail,
        cast(null as timestamptz) as sent_at,
        fetched_at as received_at,
        booking_uid

    from snapshots
    where feed_problem is not null

),

slot_problems as (

    select
        'slot:' || bookings.booking_id as feed_problem_id,
        'webhook' as problem_source,
        chains.slot_event_id as event_id,
        slot_event.trigger_event,
        'suspicious_slot' as problem,
        case bookings.slot_problem
            when 'end_before_start' then 'the slot ends before it starts'
            else 'the slot starts more than two years from when it was booked'
        end || '; it needs review and is kept out of the weekly rates' as detail,
        slot_event.sent_at,
        slot_event.received_at,
        bookings.current_booking_uid as booking_uid

    from bookings
    inner join chains on chains.booking_id = bookings.booking_id
    left join events as slot_event on slot_event.event_id = chains.slot_event_id
    where bookings.slot_problem is not null

),

unioned as (

    select * from event_problems
    union all
    select * from snapshot_problems
    union all
    select * from slot_problems

),

final as (

    select
        cast(feed_problem_id as text) as feed_problem_id,
        cast(problem_source as text) as problem_source,
        cast(event_id as bigint) as event_id,
        cast(trigger_event as text) as trigger_event,
        cast(problem as text) as problem,
        cast(detail as text) as detail,
        cast(sent_at as timestamptz) as sent_at,
        cast(received_at as timestamptz) as received_at,
        cast(booking_uid as text) as booking_uid

    from unioned

)

select * from final
