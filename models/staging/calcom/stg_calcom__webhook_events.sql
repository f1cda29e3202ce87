{#- The only place that reads Cal.com JSON. Both envelope shapes:
    {triggerEvent, createdAt, payload: {...}} and the flat MEETING_STARTED /
    MEETING_ENDED body whose booking fields sit at the top level. Parsed once: an
    incremental table that adds the bodies not staged yet, stamped with the batch. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[
        {'columns': ['event_id'], 'unique': true},
        {'columns': ['booking_uid']},
        {'columns': ['batch_no']},
        {'columns': ['sent_at']},
        {'columns': ['received_at']},
    ],
) }}

with

source as (

    select * from {{ source('calcom', 'calcom_webhook_events') }} as raw_events
    {% if is_incremental() %}
    where {{ not_staged_yet('raw_events', source('calcom', 'calcom_webhook_events'), 'event_id') }}
    {% endif %}

),

enveloped as (

    select
        *,
        {{ calcom_booking_object('payload') }} as booking

    from source
    -- a fence (offset 0): `booking` is extracted once per row, not once per reference
    offset 0

),

instants as (

    -- each timestamp parsed once: null when absent or not a real instant
    select
        *,
        {{ safe_timestamptz("booking ->> 'startTime'") }} as parsed_start_at,
        {{ safe_timestamptz("booking ->> 'endTime'") }} as parsed_end_at,
        {{ safe_timestamptz("payload ->> 'createdAt'") }} as parsed_sent_at

    from enveloped
    -- parsed once per row: each parsed column is read twice below (value, unreadable)
    offset 0

),

texts as (

    -- each text that reaches a key, a join or an index, as sent (bounded below)
    select
        *,
        nullif(trim(coalesce(booking ->> 'uid', booking ->> 'bookingUid')), '') as sent_uid,
        nullif(trim(booking ->> 'rescheduleUid'), '') as sent_reschedule_uid,
        nullif(trim(booking ->> 'fromReschedule'), '') as sent_from_reschedule,
        nullif(trim(booking ->> 'rootBookingUid'), '') as sent_root_booking_uid,
        nullif(trim(booking ->> 'attendeeSeatId'), '') as sent_attendee_seat_id,
        nullif(trim(booking -> 'metadata' ->> '{{ var("lead_id_metadata_key") }}'), '')
            as sent_lead_id,
        nullif(lower(trim(booking -> 'attendees' -> 0 ->> 'email')), '') as sent_booker_email,
        nullif(trim(booking -> 'attendees' -> 0 ->> 'name'), '') as sent_booker_name,
        nullif(trim(booking -> 'organizer' ->> 'id'), '') as sent_host_user_id,
        nullif(trim(booking -> 'organizer' ->> 'name'), '') as sent_host_name,
        nullif(lower(trim(booking -> 'organizer' ->> 'email')), '') as sent_host_email,
        nullif(trim(booking ->> 'type'), '') as sent_event_type,
        nullif(trim(booking ->> 'eventTypeId'), '') as sent_event_type_id,
        nullif(trim(booking ->> 'eventTitle'), '') as sent_event_type_title

    from instants

),

renamed as (

    select
        ---------- ids (null when longer than their limit: `oversized_fields` says which)
        event_id,
        body_sha256,
        {{ bounded('sent_uid', 'uid') }} as booking_uid,
        {{ bounded('sent_reschedule_uid', 'uid') }} as reschedule_uid,
        -- newer Cal.com: the uid this booking was rescheduled from (MEETING_* bodies carry
        -- the booking row), and the first booking of its chain (the booking's own uid
        -- when it is the first)
        {{ bounded('sent_from_reschedule', 'uid') }} as from_reschedule_uid,
        {{ bounded('sent_root_booking_uid', 'uid') }} as root_booking_uid,
        {{ bounded('sent_lead_id', 'lead_id') }} as metadata_lead_id,

        ---------- delivery
        source as delivery_source,
        webhook_version,
        secret_index,
        payload is not null as is_parsed,
        parse_error,

        ---------- event
        coalesce(payload ->> 'triggerEvent', trigger_event) as trigger_event,
        jsonb_typeof(payload -> 'payload') is distinct from 'object' as is_flat_body,
        upper(booking ->> 'status') as booking_status,
        {{ bounded('sent_event_type', 'label') }} as event_type,
        {{ bounded('sent_event_type_id', 'label') }} as event_type_id,
        {{ bounded('sent_event_type_title', 'name') }} as event_type_title,
        nullif(trim(booking ->> 'location'), '') as location,

        ---------- seats and series
        -- a seated event type: each attendee books a seat on the same booking uid
        case when jsonb_typeof(booking -> 'seatsPerTimeSlot') = 'number'
            then (booking ->> 'seatsPerTimeSlot')::numeric > 0 else false end as is_seated,
        {{ bounded('sent_attendee_seat_id', 'uid') }} as attendee_seat_id,
        -- the recurrence of a recurring event type; on BOOKING_CANCELLED only when every
        -- remaining occurrence was cancelled ("cancel all remaining")
        jsonb_typeof(booking -> 'recurringEvent') = 'object' as has_recurring_event,

        ---------- host (the organizer)
        {{ bounded('sent_host_user_id', 'label') }} as host_user_id,
        {{ bounded('sent_host_name', 'name') }} as host_name,
        {{ bounded('sent_host_email', 'email') }} as host_email,

        ---------- booker (first attendee)
        {{ bounded('sent_booker_email', 'email') }} as booker_email,
        {{ bounded('sent_booker_name', 'name') }} as booker_name,
        nullif(trim(booking ->> 'smsReminderNumber'), '') as sms_reminder_number,

        ---------- cancellation
        nullif(trim(booking ->> 'cancellationReason'), '') as cancellation_reason,
        nullif(lower(trim(booking ->> 'cancelledBy')), '') as cancelled_by,
        coalesce(booking ->> 'requestReschedule' = 'true', false) as is_reschedule_request,

        ---------- timestamps (null when absent or unreadable; never an error)
        parsed_start_at as start_at,
        parsed_end_at as end_at,
        -- the envelope's send time; for flat MEETING_* bodies this is the booking's
        -- creation time instead (docs/design.md), so they never move clocks downstream
        parsed_sent_at as sent_at,
        -- the fields that are present but are not a real instant (2026-02-30, +25:00…)
        nullif(concat_ws(', ',
            case when {{ is_unreadable("payload ->> 'createdAt'", 'parsed_sent_at') }} then 'createdAt' end,
            case when {{ is_unreadable("booking ->> 'startTime'", 'parsed_start_at') }} then 'startTime' end,
            case when {{ is_unreadable("booking ->> 'endTime'", 'parsed_end_at') }} then 'endTime' end
        ), '') as unreadable_timestamp_fields,
        -- the texts longer than their limit (macros/bounds.sql)
        {{ oversized_fields([
            ('uid', 'sent_uid', 'uid'),
            ('rescheduleUid', 'sent_reschedule_uid', 'uid'),
            ('fromReschedule', 'sent_from_reschedule', 'uid'),
            ('rootBookingUid', 'sent_root_booking_uid', 'uid'),
            ('attendeeSeatId', 'sent_attendee_seat_id', 'uid'),
            ('metadata.' ~ var('lead_id_metadata_key'), 'sent_lead_id', 'lead_id'),
            ('attendee email', 'sent_booker_email', 'email'),
            ('attendee name', 'sent_booker_name', 'name'),
            ('organizer id', 'sent_host_user_id', 'label'),
            ('organizer name', 'sent_host_name', 'name'),
            ('organizer email', 'sent_host_email', 'email'),
            ('type', 'sent_event_type', 'label'),
            ('eventTypeId', 'sent_event_type_id', 'label'),
            ('eventTitle', 'sent_event_type_title', 'name'),
        ]) }} as oversized_fields,
        received_at,
        cast({{ this_batch() }} as integer) as batch_no,
        {{ staged_xmin() }} as staged_xmin

    from texts

)

select * from renamed
