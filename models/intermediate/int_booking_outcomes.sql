{#- The outcome of every chain, by the first rule that applies (docs/design.md):
    manual confirmation > lifecycle state (cancelled / rejected / pending) > a
    suspicious slot (ends before it starts, or starts more than two years from its
    booking: needs review, kept out of the weekly rates) > an occurrence of a recurring
    series cancelled without a word for it (pending, unconfirmed) > Cal.com no-show
    marks (webhook marks and the API's absent flags: the latest statement wins; a seat:
    its own attendee's) > Cal Video no-show > the API's absentHost > CRM outcome updated
    after the slot began > optional assumed completion > the clock (upcoming /
    awaiting_outcome / needs_review). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='booking_id',
    pre_hook=["{{ delete_vanished_chains() }}", "{{ hash_joins_when_rebuilt_whole() }}"],
    indexes=[{'columns': ['booking_id'], 'unique': true}, {'columns': ['batch_no']}],
) }}

-- depends_on: {{ ref('int_changed_chains') }}
-- depends_on: {{ ref('int_changed_outcomes') }}

with

chains as not materialized (

    select chains.*
    from {{ ref('int_booking_chains') }} as chains
    {% if is_incremental() %}
    -- an incremental batch decides again only the chains in its scope
    where chains.booking_id in (select booking_id from {{ ref('int_changed_outcomes') }})
    {% endif %}

),

matches as (

    select * from {{ ref('int_bookings_matched_to_leads') }}

),

leads as (

    select * from {{ ref('int_crm_leads') }}

),

usable_events as not materialized (

    {% if is_incremental() %}
    -- only the events of the chains being decided (their current uids), by index
    {{ rows_of_scope(ref('int_webhook_events_checked'), 'booking_uid',
                     ref('int_changed_outcomes'), 'current_calcom_uid',
                     where='scope_rows.feed_problem is null') }}
    {% else %}
    select * from {{ ref('int_webhook_events_checked') }}
    where feed_problem is null
    {% endif %}

),

attendees as (

    -- attendees of events kept in the chains only (no marks from a problem event)
    select attendee_rows.*
    from {{ ref('stg_calcom__event_attendees') }} as attendee_rows
    inner join usable_events on usable_events.event_id = attendee_rows.event_id
    {% if is_incremental() %}
        -- (the same uid, parsed from the same body: it keeps the scope's attendees to
        -- the events read above, by the attendees' index on event_id)
        and attendee_rows.booking_uid = usable_events.booking_uid
    {% endif %}

),

manual as (

    select * from {{ ref('stg_review__manual_outcomes') }}

),

latest_word as (

    select distinct on (booking_id)
        booking_id,
        manual_outcome,
        confirmed_at,
        confirmed_by

    from manual
    order by booking_id, confirmed_at desc, confirmation_id desc

),

latest_manual as (

    -- an owner's latest word; `undone` takes the confirmation back (no manual outcome)
    select
        booking_id,
        manual_outcome,
        confirmed_at as manual_confirmed_at,
        confirmed_by as manual_confirmed_by

    from latest_word
    where manual_outcome <> 'undone'

),

usable_snapshots as (

    {% if is_incremental() %}
    {{ rows_of_scope(ref('int_api_bookings_checked'), 'booking_uid',
                     ref('int_changed_outcomes'), 'current_calcom_uid',
                     where='scope_rows.feed_problem is null') }}
    {% else %}
    select * from {{ ref('int_api_bookings_checked') }}
    where feed_problem is null
    {% endif %}

),

api_attendees as (

    select api_rows.*
    from {{ ref('stg_calcom__api_booking_attendees') }} as api_rows
    inner join usable_snapshots on usable_snapshots.snapshot_id = api_rows.snapshot_id

),

mark_statements as (

    -- no-show marks from webhooks (time: sent) and the API's absent flags (time:
    -- fetched); `false` is a statement too (an unmark: no evidence either way)
    select
        booking_uid,
        attendee_email,
        is_no_show,
        sent_at as stated_at,
        1 as source_rank,
        body_sha256,
        'webhook' as mark_source

    from attendees
    where trigger_event = 'BOOKING_NO_SHOW_UPDATED'
      and attendee_email is not null
      and is_no_show is not null

    union all

    select
        booking_uid,
        attendee_email,
        is_absent as is_no_show,
        fetched_at as stated_at,
        0 as source_rank,
        body_sha256,
        'api' as mark_source

    from api_attendees
    where attendee_email is not null
      and is_absent is not null

),

latest_marks as (

    -- the latest statement per attendee wins (ties: the webhook)
    select distinct on (booking_uid, attendee_email)
        booking_uid,
        attendee_email,
        is_no_show,
        stated_at as marked_at

    from mark_statements
    order by booking_uid, attendee_email, stated_at desc, source_rank desc, body_sha256 desc

),

latest_webhook_marks as (

    -- what the webhooks alone say: when they would not have decided, the API did
    select distinct on (booking_uid, attendee_email)
        booking_uid,
        attendee_email,
        is_no_show

    from mark_statements
    where mark_source = 'webhook'
    order by booking_uid, attendee_email, stated_at desc, body_sha256 desc

),

booking_people as (

    select booking_uid, attendee_email
    from attendees
    where trigger_event in (select trigger_event from {{ ref('calcom_triggers') }}
                            where lifecycle_state is not null)
      and attendee_email is not null

    union

    select booking_uid, attendee_email from api_attendees where attendee_email is not null

    union

    select booking_uid, attendee_email from latest_marks

),

mark_evidence as (

    select
        booking_people.booking_uid,
        count(latest_marks.attendee_email) as marked_attendees,
        bool_and(coalesce(latest_marks.is_no_show, false)) as is_every_attendee_no_show,
        bool_and(coalesce(latest_webhook_marks.is_no_show, false))
            as is_every_attendee_no_show_by_webhook,
        max(latest_marks.marked_at) as latest_mark_at

    from booking_people
    left join latest_marks
        on latest_marks.booking_uid = booking_people.booking_uid
        and latest_marks.attendee_email = booking_people.attendee_email
    left join latest_webhook_marks
        on latest_webhook_marks.booking_uid = booking_people.booking_uid
        and latest_webhook_marks.attendee_email = booking_people.attendee_email
    group by booking_people.booking_uid

),

seat_marks as (

    -- a seat's evidence is its own attendee's latest mark
    select
        chains.booking_id,
        latest_marks.is_no_show,
        latest_webhook_marks.is_no_show as is_no_show_by_webhook,
        latest_marks.marked_at

    from chains
    inner join latest_marks
        on latest_marks.booking_uid = chains.current_calcom_uid
        and latest_marks.attendee_email = chains.seat_email
    left join latest_webhook_marks
        on latest_webhook_marks.booking_uid = chains.current_calcom_uid
        and latest_webhook_marks.attendee_email = chains.seat_email
    where chains.is_seat

),

seat_video_evidence as (

    -- a Cal Video guest no-show speaks for the seats of the attendees it lists
    select distinct chains.booking_id
    from chains
    inner join attendees
        on attendees.booking_uid = chains.current_calcom_uid
        and attendees.attendee_email = chains.seat_email
    where chains.is_seat
      and attendees.trigger_event = 'AFTER_GUESTS_CAL_VIDEO_NO_SHOW'

),

series_cancels as (

    -- "cancel all remaining" of a recurring series: Cal.com sends one BOOKING_CANCELLED,
    -- for the occurrence acted on, and cancels the later ones without a webhook
    -- (handleCancelBooking.ts, updateMany). Webhooks carry no series id, so an
    -- occurrence of the same series is told by what one booking request shares: the
    -- booker, the event type and the host, booked within ten minutes of each other.
    -- Such an occurrence that starts after the cancellation, with no later word from
    -- Cal.com, is unconfirmed: kept out of the meetings until the Cal.com sync (or an
    -- owner) says what became of it (docs/design.md, "Recurring series").
    select
        chains.booking_id,
        max(series.latest_calcom_event_at) as series_cancelled_at

    from chains
    inner join {{ ref('int_booking_chains') }} as series
        on series.booker_email = chains.booker_email
        and series.is_series_cancel
        and series.booking_id <> chains.booking_id
        and series.event_type_id is not distinct from chains.event_type_id
        and series.host_key is not distinct from chains.host_key
        and series.booked_at between chains.booked_at - interval '10 minutes'
                                 and chains.booked_at + interval '10 minutes'
    where chains.has_recurring_event
      and chains.booking_state = 'accepted'
      and chains.start_at >= series.latest_calcom_event_at
      and chains.latest_calcom_event_at < series.latest_calcom_event_at
    group by chains.booking_id

),

video_evidence as (

    select
        booking_uid,
        max(case when trigger_event = 'AFTER_GUESTS_CAL_VIDEO_NO_SHOW' then sent_at end)
            as guests_no_show_at,
        max(case when trigger_event = 'AFTER_HOSTS_CAL_VIDEO_NO_SHOW' then sent_at end)
            as hosts_no_show_at,
        bool_or(trigger_event = 'AFTER_GUESTS_CAL_VIDEO_NO_SHOW') as has_guests_no_show,
        bool_or(trigger_event = 'AFTER_HOSTS_CAL_VIDEO_NO_SHOW') as has_hosts_no_show

    from usable_events
    where trigger_event in ('AFTER_GUESTS_CAL_VIDEO_NO_SHOW', 'AFTER_HOSTS_CAL_VIDEO_NO_SHOW')
    group by booking_uid

),

crm_evidence as (

    -- the CRM's outcome speaks for the chain it names (booking_uid) or, when it names
    -- none, for the lead's latest chain; and only if recorded after the slot began
    select
        chains.booking_id,
        leads.crm_booking_status as crm_outcome,
        leads.crm_status_changed_at

    from chains
    inner join matches on matches.booking_id = chains.booking_id
    inner join leads on leads.lead_id = matches.lead_id
    where leads.crm_booking_status in ('completed', 'no_show')
      and leads.crm_status_changed_at > chains.start_at
      and (
          leads.crm_booking_uid in (chains.booking_id, chains.current_booking_uid)
          or (leads.crm_booking_uid is null and matches.is_latest_for_lead)
      )

),

slot_checks as (

    select
        booking_id,
        case
            when end_at < start_at then 'end_before_start'
            when start_at > booked_at + interval '2 years'
                or start_at < booked_at - interval '2 years' then 'start_far_from_booking'
        end as slot_problem

    from chains

),

decided as (

    select
        chains.booking_id,
        slot_checks.slot_problem,
        chains.booking_state,
        latest_manual.manual_outcome,
        latest_manual.manual_confirmed_at,
        latest_manual.manual_confirmed_by,
        case when chains.is_seat then seat_marks.marked_at
            else mark_evidence.latest_mark_at end as latest_mark_at,
        series_cancels.series_cancelled_at,
        video_evidence.guests_no_show_at,
        video_evidence.hosts_no_show_at,
        crm_evidence.crm_outcome,
        case
            when latest_manual.manual_outcome is not null then latest_manual.manual_outcome
            when chains.booking_state in ('cancelled', 'rejected', 'pending')
                then chains.booking_state
            when slot_checks.slot_problem is not null then 'needs_review'
            when series_cancels.booking_id is not null then 'pending'
            when chains.is_seat and seat_marks.is_no_show then 'no_show'
            when not chains.is_seat and mark_evidence.marked_attendees > 0
                and mark_evidence.is_every_attendee_no_show then 'no_show'
            when chains.is_seat and seat_video_evidence.booking_id is not null then 'no_show'
            when not chains.is_seat and video_evidence.has_guests_no_show then 'no_show'
            when video_evidence.has_hosts_no_show then 'host_no_show'
            when chains.is_host_absent then 'host_no_show'
            when crm_evidence.crm_outcome is not null then crm_evidence.crm_outcome
            {% if var('assume_completed_after_hours') is not none %}
            when chains.end_at <= {{ as_of() }}
                - interval '1 hour' * {{ var('assume_completed_after_hours') }}
                then 'completed'
            {% endif %}
            when chains.end_at is null then 'needs_review'
            when chains.end_at > {{ as_of() }} then 'upcoming'
            when chains.end_at > {{ as_of() }} - interval '1 hour' * {{ var('review_after_hours') }}
                then 'awaiting_outcome'
            else 'needs_review'
        end as outcome,
        case
            when latest_manual.manual_outcome is not null then 'manual'
            when chains.booking_state in ('cancelled', 'rejected', 'pending') then 'lifecycle'
            when slot_checks.slot_problem is not null then 'feed_problem'
            when series_cancels.booking_id is not null then 'series_cancel'
            when chains.is_seat and seat_marks.is_no_show
                then case when coalesce(seat_marks.is_no_show_by_webhook, false)
                    then 'calcom' else 'calcom_api' end
            when not chains.is_seat and mark_evidence.marked_attendees > 0
                and mark_evidence.is_every_attendee_no_show
                then case when mark_evidence.is_every_attendee_no_show_by_webhook
                    then 'calcom' else 'calcom_api' end
            when chains.is_seat and seat_video_evidence.booking_id is not null then 'cal_video'
            when not chains.is_seat and video_evidence.has_guests_no_show then 'cal_video'
            when video_evidence.has_hosts_no_show then 'cal_video'
            when chains.is_host_absent then 'calcom_api'
            when crm_evidence.crm_outcome is not null then 'crm'
            {% if var('assume_completed_after_hours') is not none %}
            when chains.end_at <= {{ as_of() }}
                - interval '1 hour' * {{ var('assume_completed_after_hours') }}
                then 'assumed'
            {% endif %}
            else 'clock'
        end as outcome_source,
        cast({{ this_batch() }} as integer) as batch_no

    from chains
    inner join slot_checks on slot_checks.booking_id = chains.booking_id
    left join latest_manual on latest_manual.booking_id = chains.booking_id
    left join mark_evidence on mark_evidence.booking_uid = chains.current_calcom_uid
    left join video_evidence on video_evidence.booking_uid = chains.current_calcom_uid
    left join seat_marks on seat_marks.booking_id = chains.booking_id
    left join seat_video_evidence on seat_video_evidence.booking_id = chains.booking_id
    left join series_cancels on series_cancels.booking_id = chains.booking_id
    left join crm_evidence on crm_evidence.booking_id = chains.booking_id

)

select * from decided
