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

renamed as (

    select
        ---------- ids
        event_id,
        body_sha256,
        nullif(trim(coalesce(booking ->> 'uid', booking ->> 'bookingUid')), '') as booking_uid,
        nullif(trim(booking ->> 'rescheduleUid'), '') as reschedule_uid,
        nullif(trim(booking -> 'metadata' ->> '{{ var("lead_id_metadata_key") }}'), '')
            as metadata_lead_id,

        ---------- delivery
        source as delivery_source,
        webhook_version,
        secret_index,
        payload is not null as is_parsed,
        parse_error,

        ---------- event
        coalesce(payload ->> 'triggerEvent', trigger_event) as trigger_event,
        jsonb_typeof(payload -> 'payload') is distinct from 'object' as is_flat_body,
        {{ trigger_rank("coalesce(payload ->> 'triggerEvent', trigger_event)") }} as trigger_rank,
        upper(booking ->> 'status') as booking_status,
        nullif(trim(booking ->> 'type'), '') as event_type,
        nullif(trim(booking ->> 'eventTypeId'), '') as event_type_id,
        nullif(trim(booking ->> 'eventTitle'), '') as event_type_title,
        nullif(trim(booking ->> 'location'), '') as location,

        ---------- host (the organizer)
        nullif(trim(booking -> 'organizer' ->> 'id'), '') as host_user_id,
        nullif(trim(booking -> 'organizer' ->> 'name'), '') as host_name,
        nullif(lower(trim(booking -> 'organizer' ->> 'email')), '') as host_email,

        ---------- booker (first attendee)
        nullif(lower(trim(booking -> 'attendees' -> 0 ->> 'email')), '') as booker_email,
        nullif(trim(booking -> 'attendees' -> 0 ->> 'name'), '') as booker_name,
        nullif(trim(booking ->> 'smsReminderNumber'), '') as sms_reminder_number,

        ---------- cancellation
        nullif(trim(booking ->> 'cancellationReason'), '') as cancellation_reason,
        nullif(lower(trim(booking ->> 'cancelledBy')), '') as cancelled_by,
        coalesce(booking ->> 'requestReschedule' = 'true', false) as is_reschedule_request,

        ---------- timestamps (null when absent or unreadable; never an error)
        parsed_start_at as start_at,
        parsed_end_at as end_at,
        -- the envelope's send time; for flat MEETING_* bodies this is the booking's
        -- creation time instead (DESIGN.md), so they never move clocks downstream
        parsed_sent_at as sent_at,
        -- the fields that are present but are not a real instant (2026-02-30, +25:00…)
        nullif(concat_ws(', ',
            case when {{ is_unreadable("payload ->> 'createdAt'", 'parsed_sent_at') }} then 'createdAt' end,
            case when {{ is_unreadable("booking ->> 'startTime'", 'parsed_start_at') }} then 'startTime' end,
            case when {{ is_unreadable("booking ->> 'endTime'", 'parsed_end_at') }} then 'endTime' end
        ), '') as unreadable_timestamp_fields,
        received_at,
        cast({{ this_batch() }} as integer) as batch_no,
        {{ staged_xmin() }} as staged_xmin

    from instants

)

select * from renamed
