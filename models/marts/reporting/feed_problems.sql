{#- Every Cal.com event kept out of the booking chains, with its reason; every chain
    whose current slot cannot be real; every occurrence of a recurring series that a
    "cancel all remaining" most likely cancelled without a webhook (unconfirmed until the
    Cal.com sync or an owner says); and every row of the latest CRM export the leads
    could not use. Bad data never stops a refresh and never vanishes: it is listed here
    (no contact data), counted by feed_health and shown on the page. -#}
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

crm_rows as (

    select * from {{ ref('int_crm_row_problems') }}

),

latest_export as (

    select snapshot_id
    from {{ ref('stg_crm__snapshots') }}
    order by snapshot_at desc, snapshot_id desc
    limit 1

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
        booking_uid,
        cast(null as text) as crm_export,
        cast(null as integer) as crm_row,
        cast(null as text) as crm_lead_id

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
        booking_uid,
        cast(null as text) as crm_export,
        cast(null as integer) as crm_row,
        cast(null as text) as crm_lead_id

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
        bookings.calcom_booking_uid as booking_uid,
        cast(null as text) as crm_export,
        cast(null as integer) as crm_row,
        cast(null as text) as crm_lead_id

    from bookings
    inner join chains on chains.booking_id = bookings.booking_id
    left join events as slot_event on slot_event.event_id = chains.slot_event_id
    where bookings.slot_problem is not null

),

series_problems as (

    select
        'series:' || bookings.booking_id as feed_problem_id,
        'webhook' as problem_source,
        cast(null as bigint) as event_id,
        'BOOKING_CANCELLED' as trigger_event,
        'unconfirmed_series_cancel' as problem,
        'an occurrence of a recurring series whose remaining occurrences were cancelled; '
            || 'Cal.com sends no webhook for them, so it is kept out of the meetings until '
            || 'the Cal.com sync (or an owner in the review queue) confirms it' as detail,
        cast(null as timestamptz) as sent_at,
        cast(null as timestamptz) as received_at,
        bookings.calcom_booking_uid as booking_uid,
        cast(null as text) as crm_export,
        cast(null as integer) as crm_row,
        cast(null as text) as crm_lead_id

    from bookings
    where bookings.outcome_source = 'series_cancel'

),

crm_problems as (

    -- the current export's rows (the latest one loaded)
    select
        'crm:' || cast(crm_rows.snapshot_id as text) || ':'
            || coalesce(cast(crm_rows.export_row as text), md5(crm_rows.lead_label))
            as feed_problem_id,
        'crm' as problem_source,
        crm_rows.snapshot_id as event_id,
        cast(null as text) as trigger_event,
        crm_rows.problem,
        crm_rows.detail,
        cast(null as timestamptz) as sent_at,
        crm_rows.snapshot_at as received_at,
        cast(null as text) as booking_uid,
        crm_rows.source_name as crm_export,
        crm_rows.export_row as crm_row,
        crm_rows.lead_label as crm_lead_id

    from crm_rows
    where crm_rows.snapshot_id in (select snapshot_id from latest_export)

),

unioned as (

    select * from event_problems
    union all
    select * from snapshot_problems
    union all
    select * from slot_problems
    union all
    select * from series_problems
    union all
    select * from crm_problems

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
        cast(booking_uid as text) as booking_uid,
        cast(crm_export as text) as crm_export,
        cast(crm_row as integer) as crm_row,
        cast(crm_lead_id as text) as crm_lead_id

    from unioned

)

select * from final
