{#- Everything Cal.com has stated about each booking uid, from both channels, in one
    timeline: usable webhook events (time: the envelope's createdAt) and API booking
    snapshots (time: when fetched). "Latest" = latest `stated_at`, ties won by the
    webhook (`source_rank`), then the fixed trigger order, then body hash (DESIGN.md). -#}
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

from_webhooks as (

    select
        'webhook:' || cast(event_id as text) as statement_id,
        'webhook' as statement_source,
        1 as source_rank,
        event_id,
        cast(null as bigint) as snapshot_id,
        booking_uid,
        trigger_event,
        trigger_rank,
        body_sha256,
        sent_at as stated_at,
        case trigger_event
            when 'BOOKING_CREATED' then 'accepted'
            when 'BOOKING_RESCHEDULED' then 'accepted'
            when 'BOOKING_REQUESTED' then 'pending'
            when 'BOOKING_CANCELLED' then 'cancelled'
            when 'BOOKING_REJECTED' then 'rejected'
        end as lifecycle_state,
        trigger_event in ('BOOKING_CREATED', 'BOOKING_REQUESTED', 'BOOKING_RESCHEDULED')
            as is_creation,
        case when trigger_event in ('BOOKING_CREATED', 'BOOKING_REQUESTED',
                                    'BOOKING_RESCHEDULED') then sent_at end as creation_at,
        trigger_event in ('MEETING_STARTED', 'MEETING_ENDED') as is_meeting_snapshot,
        -- MEETING_* bodies carry the booking's creation time: they move no clock
        case when trigger_event not in ('MEETING_STARTED', 'MEETING_ENDED') then sent_at end
            as change_at,
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
        case when trigger_event in ('BOOKING_CREATED', 'BOOKING_REQUESTED',
                                    'BOOKING_RESCHEDULED') and reschedule_uid <> booking_uid
            then reschedule_uid end as parent_uid,
        cast(null as text) as child_uid,
        sms_reminder_number,
        case when trigger_event in ('BOOKING_CANCELLED', 'BOOKING_REJECTED') then true
            else false end as states_cancellation,
        cancellation_reason,
        cancelled_by,
        is_reschedule_request,
        false as is_host_absent

    from webhook_events

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
        case when rescheduled_to_uid <> booking_uid then rescheduled_to_uid end as child_uid,
        cast(null as text) as sms_reminder_number,
        rescheduled_to_uid is null and api_status in ('cancelled', 'rejected')
            as states_cancellation,
        cancellation_reason,
        cancelled_by,
        false as is_reschedule_request,
        is_host_absent

    from api_snapshots

),

final as (

    select * from from_webhooks
    union all
    select * from from_api

)

select * from final
