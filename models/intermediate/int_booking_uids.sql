{#- One row per Cal.com booking uid: what its events say about it, latest first.
    "Latest" is by send time, then the fixed trigger order, then body hash: never by
    arrival order. Uids only known as a `rescheduleUid` are added as rows without
    events (their creation was missed). Events with a feed problem (unreadable times,
    no uid, a reused uid…) are kept out; `reporting.feed_problems` lists them. -#}
with

events as (

    select * from {{ ref('int_webhook_events_checked') }}
    where is_booking_event
      and feed_problem is null

),

ordered as (

    select
        *,
        trigger_event in ('BOOKING_CREATED', 'BOOKING_REQUESTED', 'BOOKING_RESCHEDULED')
            as is_creation,
        trigger_event in (
            'BOOKING_CREATED', 'BOOKING_REQUESTED', 'BOOKING_RESCHEDULED',
            'BOOKING_CANCELLED', 'BOOKING_REJECTED'
        ) as is_lifecycle,
        trigger_event in ('MEETING_STARTED', 'MEETING_ENDED') as is_meeting_snapshot

    from events

),

latest_lifecycle as (

    select distinct on (booking_uid)
        booking_uid,
        trigger_event as latest_lifecycle_trigger

    from ordered
    where is_lifecycle
    order by booking_uid, sent_at desc nulls last, trigger_rank desc, body_sha256 desc

),

latest_slot as (

    -- the slot from the latest lifecycle event that states one, else any event
    select distinct on (booking_uid)
        booking_uid,
        start_at,
        end_at,
        event_id as slot_event_id

    from ordered
    where start_at is not null
    order by booking_uid, is_lifecycle desc, sent_at desc nulls last, trigger_rank desc,
        body_sha256 desc

),

latest_details as (

    select distinct on (booking_uid)
        booking_uid,
        booker_email,
        booker_name,
        event_type

    from ordered
    where booker_email is not null
    order by booking_uid, is_lifecycle desc, sent_at desc nulls last, trigger_rank desc,
        body_sha256 desc

),

latest_lead as (

    select distinct on (booking_uid)
        booking_uid,
        metadata_lead_id

    from ordered
    where metadata_lead_id is not null
    order by booking_uid, sent_at desc nulls last, trigger_rank desc, body_sha256 desc

),

latest_parent as (

    select distinct on (booking_uid)
        booking_uid,
        reschedule_uid as parent_uid

    from ordered
    where is_creation and reschedule_uid is not null and reschedule_uid <> booking_uid
    order by booking_uid, sent_at asc nulls last, trigger_rank asc, body_sha256 asc

),

latest_sms as (

    select distinct on (booking_uid)
        booking_uid,
        sms_reminder_number

    from ordered
    where sms_reminder_number is not null
    order by booking_uid, sent_at desc nulls last, trigger_rank desc, body_sha256 desc

),

latest_cancellation as (

    select distinct on (booking_uid)
        booking_uid,
        cancellation_reason,
        cancelled_by,
        is_reschedule_request

    from ordered
    where trigger_event in ('BOOKING_CANCELLED', 'BOOKING_REJECTED')
    order by booking_uid, sent_at desc nulls last, trigger_rank desc, body_sha256 desc

),

per_uid as (

    select
        booking_uid,
        bool_or(is_creation) as has_creation_event,
        min(case when is_creation then sent_at end) as created_event_at,
        min(case when not is_meeting_snapshot then sent_at end) as first_event_at,
        -- MEETING_* bodies carry the booking's creation time: a last resort only
        min(case when is_meeting_snapshot then sent_at end) as meeting_snapshot_created_at,
        max(case when not is_meeting_snapshot then sent_at end) as latest_calcom_event_at,
        count(*) as event_count

    from ordered
    group by booking_uid

),

phantom_parents as (

    select distinct latest_parent.parent_uid as booking_uid
    from latest_parent
    left join per_uid on per_uid.booking_uid = latest_parent.parent_uid
    where per_uid.booking_uid is null

),

all_uids as (

    select * from per_uid

    union all

    select
        booking_uid,
        false as has_creation_event,
        cast(null as timestamptz) as created_event_at,
        cast(null as timestamptz) as first_event_at,
        cast(null as timestamptz) as meeting_snapshot_created_at,
        cast(null as timestamptz) as latest_calcom_event_at,
        0 as event_count

    from phantom_parents

),

final as (

    select
        all_uids.booking_uid,
        latest_parent.parent_uid,
        all_uids.has_creation_event,
        all_uids.event_count,
        case latest_lifecycle.latest_lifecycle_trigger
            when 'BOOKING_CREATED' then 'accepted'
            when 'BOOKING_RESCHEDULED' then 'accepted'
            when 'BOOKING_REQUESTED' then 'pending'
            when 'BOOKING_CANCELLED' then 'cancelled'
            when 'BOOKING_REJECTED' then 'rejected'
            -- no lifecycle event seen (only marks or meeting snapshots): it happened
            else 'accepted'
        end as uid_state,
        latest_lifecycle.latest_lifecycle_trigger,
        latest_slot.start_at,
        latest_slot.end_at,
        latest_slot.slot_event_id,
        latest_details.booker_email,
        latest_details.booker_name,
        latest_details.event_type,
        latest_lead.metadata_lead_id,
        latest_sms.sms_reminder_number,
        latest_cancellation.cancellation_reason,
        latest_cancellation.cancelled_by,
        coalesce(latest_cancellation.is_reschedule_request, false) as is_reschedule_request,
        all_uids.created_event_at,
        coalesce(
            all_uids.created_event_at,
            all_uids.first_event_at,
            all_uids.meeting_snapshot_created_at
        ) as uid_booked_at,
        all_uids.latest_calcom_event_at

    from all_uids
    left join latest_parent on latest_parent.booking_uid = all_uids.booking_uid
    left join latest_lifecycle on latest_lifecycle.booking_uid = all_uids.booking_uid
    left join latest_slot on latest_slot.booking_uid = all_uids.booking_uid
    left join latest_details on latest_details.booking_uid = all_uids.booking_uid
    left join latest_lead on latest_lead.booking_uid = all_uids.booking_uid
    left join latest_sms on latest_sms.booking_uid = all_uids.booking_uid
    left join latest_cancellation on latest_cancellation.booking_uid = all_uids.booking_uid

)

select * from final
