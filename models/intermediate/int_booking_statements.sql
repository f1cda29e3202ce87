{#- Everything Cal.com has stated about each booking uid, from both channels, in one
    timeline: usable webhook events (time: the envelope's createdAt) and API booking
    snapshots (time: when fetched). "Latest" = latest `stated_at`, ties won by the
    webhook (`source_rank`), then the fixed trigger order (calcom_triggers), then body
    hash (docs/design.md). -#}
{#- A view: the uids model reads it for the uids a batch changed (or all of them). -#}
{{ config(materialized='view') }}

with

webhook_events as (

    select * from {{ ref('int_webhook_events_checked') }}
    where is_booking_event
      and feed_problem is null

),

api_snapshots as (

    select * from {{ ref('int_api_bookings_checked') }}
    where feed_problem is null

),

triggers as (

    select * from {{ ref('calcom_triggers') }}

),

from_webhooks as (

    select
        'webhook:' || cast(webhook_events.event_id as text) as statement_id,
        'webhook' as statement_source,
        1 as source_rank,
        webhook_events.event_id,
        cast(null as bigint) as snapshot_id,
        webhook_events.booking_uid,
        webhook_events.trigger_event,
        triggers.trigger_rank,
        webhook_events.body_sha256,
        webhook_events.sent_at as stated_at,
        triggers.lifecycle_state,
        triggers.is_creation,
        case when triggers.is_creation then webhook_events.sent_at end as creation_at,
        triggers.is_meeting_snapshot,
        -- MEETING_* bodies carry the booking's creation time: they move no clock
        case when not triggers.is_meeting_snapshot then webhook_events.sent_at end as change_at,
        webhook_events.start_at,
        webhook_events.end_at,
        webhook_events.booker_email,
        webhook_events.booker_name,
        webhook_events.event_type,
        webhook_events.event_type_id,
        webhook_events.event_type_title,
        webhook_events.location,
        webhook_events.host_user_id,
        webhook_events.host_name,
        webhook_events.host_email,
        webhook_events.metadata_lead_id,
        -- the uid this one replaced, from every hint Cal.com gives (the first that
        -- arrives links the chain): a creation's rescheduleUid, the booking row's
        -- fromReschedule (MEETING_* bodies), and the chain's first booking
        -- (rootBookingUid, newer Cal.com), which keeps a chain whole when a middle
        -- reschedule was lost
        case when triggers.is_creation and webhook_events.reschedule_uid <> webhook_events.booking_uid
            then webhook_events.reschedule_uid end as parent_uid,
        case when webhook_events.from_reschedule_uid <> webhook_events.booking_uid
            then webhook_events.from_reschedule_uid end as from_reschedule_uid,
        case when webhook_events.root_booking_uid <> webhook_events.booking_uid
            then webhook_events.root_booking_uid end as root_uid_hint,
        cast(null as text) as child_uid,
        webhook_events.sms_reminder_number,
        triggers.lifecycle_state in ('cancelled', 'rejected') as states_cancellation,
        webhook_events.cancellation_reason,
        webhook_events.cancelled_by,
        webhook_events.is_reschedule_request,
        false as is_host_absent,
        webhook_events.is_seated,
        webhook_events.attendee_seat_id,
        webhook_events.has_recurring_event,
        -- "cancel all remaining" of a recurring series: the one BOOKING_CANCELLED Cal.com
        -- sends carries the recurrence (handleCancelBooking.ts)
        webhook_events.trigger_event = 'BOOKING_CANCELLED' and webhook_events.has_recurring_event
            as is_series_cancel,
        cast(null as text) as recurring_booking_uid

    from webhook_events
    inner join triggers on triggers.trigger_event = webhook_events.trigger_event

),

from_api as (

    select
        'api:' || cast(snapshot_id as text) as statement_id,
        'api' as statement_source,
        0 as source_rank,
        cast(null as bigint) as event_id,
        snapshot_id,
        booking_uid,
        'API_SNAPSHOT' as trigger_event,
        0 as trigger_rank,
        body_sha256,
        fetched_at as stated_at,
        -- a booking rescheduled away is not cancelled, whatever its status says
        case
            when rescheduled_to_uid is not null then null
            when api_status = 'accepted' then 'accepted'
            when api_status = 'cancelled' then 'cancelled'
            when api_status = 'rejected' then 'rejected'
            -- pending, awaiting_host, unconfirmed…: not yet accepted
            when api_status is not null then 'pending'
        end as lifecycle_state,
        false as is_creation,
        api_created_at as creation_at,
        false as is_meeting_snapshot,
        -- when the booking last changed in Cal.com (not when we happened to read it)
        least(coalesce(api_updated_at, api_created_at), fetched_at) as change_at,
        start_at,
        end_at,
        booker_email,
        booker_name,
        event_type,
        event_type_id,
        event_type_title,
        location,
        host_user_id,
        host_name,
        host_email,
        metadata_lead_id,
        case when rescheduled_from_uid <> booking_uid then rescheduled_from_uid end
            as parent_uid,
        cast(null as text) as from_reschedule_uid,
        cast(null as text) as root_uid_hint,
        case when rescheduled_to_uid <> booking_uid then rescheduled_to_uid end as child_uid,
        cast(null as text) as sms_reminder_number,
        rescheduled_to_uid is null and api_status in ('cancelled', 'rejected')
            as states_cancellation,
        cancellation_reason,
        cancelled_by,
        false as is_reschedule_request,
        is_host_absent,
        is_seated,
        cast(null as text) as attendee_seat_id,
        recurring_booking_uid is not null as has_recurring_event,
        false as is_series_cancel,
        recurring_booking_uid

    from api_snapshots

),

final as (

    select * from from_webhooks
    union all
    select * from from_api

)

select * from final
