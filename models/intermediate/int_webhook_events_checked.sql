{#- Every stored Cal.com delivery, with the reason it is kept out of the booking chains
    (`feed_problem`), or null when it is usable. Bad data never stops a refresh and
    never vanishes (docs/design.md): an event that cannot be read or placed is listed in
    `reporting.feed_problems` instead of failing a model or silently dropping out.
    PING and triggers this project does not use (calcom_triggers) are neither chain
    events nor problems. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='event_id',
    post_hook="{{ partial_index('event_id', 'feed_problem is not null') }}",
    indexes=[{'columns': ['event_id'], 'unique': true}, {'columns': ['booking_uid']}],
) }}

-- depends_on: {{ ref('int_changed_booking_uids') }}

with

events as (

    select * from {{ ref('stg_calcom__webhook_events') }}
    {% if is_incremental() %}
    -- the new events, and every older event of a uid they touch (a new creation can
    -- make an older one a uid_conflict): two disjoint branches, each read by an index
    -- (one `or` of the two read every staged event). The older ones uid by uid: as a
    -- semi-join the planner hashed the uids and scanned every event ever staged.
    where {{ is_changed() }}

    union all

    {{ rows_of_scope(ref('stg_calcom__webhook_events'), 'booking_uid',
                     ref('int_changed_booking_uids'), 'booking_uid',
                     where='not (' ~ is_changed('scope_rows.batch_no') ~ ')') }}
    {% endif %}

),

triggers as (

    select * from {{ ref('calcom_triggers') }}

),

oversized_attendees as (

    -- the events that list an attendee whose email, name or seat uid is too long
    select event_id, count(*) as oversized_attendees
    from {{ ref('stg_calcom__event_attendees') }}
    where is_oversized
      and event_id in (select event_id from events)
    group by event_id

),

classified as (

    select
        events.*,
        coalesce(triggers.trigger_rank, 8) as trigger_rank,
        triggers.trigger_event is not null as is_booking_event,
        case
            when not events.is_parsed or events.trigger_event is null then 'unreadable_body'
            when triggers.trigger_event is null then null
            when events.oversized_fields is not null
                or oversized_attendees.event_id is not null then 'oversized_value'
            when events.unreadable_timestamp_fields is not null then 'unreadable_timestamp'
            when events.sent_at is null then 'missing_sent_at'
            when events.booking_uid is null then 'missing_booking_uid'
            -- Cal.com did not exist before 2000; a send time more than a day after we
            -- received the body is a broken clock. Either would stretch every weekly
            -- spine to that year.
            when events.sent_at < cast('2000-01-01T00:00:00Z' as timestamptz)
                or events.sent_at > events.received_at + interval '1 day' then 'implausible_sent_at'
        end as event_problem,
        case
            when not events.is_parsed or events.trigger_event is null
                then coalesce(events.parse_error, 'the body has no triggerEvent')
            when events.oversized_fields is not null or oversized_attendees.event_id is not null
                then 'a value too long to be a key: ' || concat_ws(', ', events.oversized_fields,
                    case when oversized_attendees.event_id is not null
                        then oversized_attendees.oversized_attendees
                             || ' attendee(s) with an email over {{ text_limit('email') }}'
                             || ' or a name or seat uid over {{ text_limit('name') }} characters'
                    end)
            when events.unreadable_timestamp_fields is not null
                then 'not a real instant: ' || events.unreadable_timestamp_fields
            when events.sent_at is null then 'createdAt is missing'
            when events.booking_uid is null then 'no booking uid (uid / bookingUid)'
            else 'createdAt is before 2000 or more than a day after the body was received'
        end as event_problem_detail

    from events
    left join triggers on triggers.trigger_event = events.trigger_event
    left join oversized_attendees on oversized_attendees.event_id = events.event_id

),

creation_slots as (

    -- a uid is one booking: two CREATED / REQUESTED events with the same uid and a
    -- different slot are two bookings sharing it. The latest one is kept.
    select
        event_id,
        start_at,
        end_at,
        first_value(start_at) over latest_first as latest_start_at,
        first_value(end_at) over latest_first as latest_end_at

    from classified
    where event_problem is null
      and trigger_event in ('BOOKING_CREATED', 'BOOKING_REQUESTED')
      and start_at is not null
      -- seats: every seat's creation restates the booking's one slot
      and is_seated is not true
    window latest_first as (
        partition by booking_uid
        order by sent_at desc, trigger_rank desc, body_sha256 desc
    )

),

uid_conflicts as (

    select event_id
    from creation_slots
    where start_at <> latest_start_at
       or end_at is distinct from latest_end_at

),

final as (

    select
        classified.*,
        case
            when classified.event_problem is not null then classified.event_problem
            when uid_conflicts.event_id is not null then 'uid_conflict'
        end as feed_problem,
        case
            when classified.event_problem is not null then classified.event_problem_detail
            when uid_conflicts.event_id is not null
                then 'the uid was reused for a booking with another slot; the latest is kept'
        end as feed_problem_detail

    from classified
    left join uid_conflicts on uid_conflicts.event_id = classified.event_id

)

select * from final
