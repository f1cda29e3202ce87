{#- Booking snapshots from Cal.com's API v2: the only model that reads their JSON besides
    its attendee sibling. Each states the booking's state at `fetched_at`. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[
        {'columns': ['snapshot_id'], 'unique': true},
        {'columns': ['booking_uid']},
        {'columns': ['batch_no']},
    ],
) }}

with

source as (

    select * from {{ source('calcom', 'calcom_api_bookings') }} as raw_snapshots
    {% if is_incremental() %}
    where {{ not_staged_yet('raw_snapshots', source('calcom', 'calcom_api_bookings'), 'snapshot_id') }}
    {% endif %}

),

instants as (

    -- each timestamp parsed once: null when absent or not a real instant
    select
        *,
        {{ safe_timestamptz("payload ->> 'start'") }} as parsed_start_at,
        {{ safe_timestamptz("payload ->> 'end'") }} as parsed_end_at,
        {{ safe_timestamptz("payload ->> 'createdAt'") }} as parsed_created_at,
        {{ safe_timestamptz("payload ->> 'updatedAt'") }} as parsed_updated_at

    from source
    -- parsed once per row: each parsed column is read twice below (value, unreadable)
    offset 0

),

texts as (

    -- each text that reaches a key, a join or an index, as returned (bounded below)
    select
        *,
        nullif(trim(payload ->> 'uid'), '') as sent_uid,
        nullif(trim(payload ->> 'rescheduledFromUid'), '') as sent_rescheduled_from_uid,
        nullif(trim(payload ->> 'rescheduledToUid'), '') as sent_rescheduled_to_uid,
        nullif(trim(payload ->> 'recurringBookingUid'), '') as sent_recurring_booking_uid,
        nullif(trim(payload -> 'metadata' ->> '{{ var("lead_id_metadata_key") }}'), '')
            as sent_lead_id,
        nullif(trim(coalesce(payload -> 'eventType' ->> 'slug', payload ->> 'eventTypeSlug')), '')
            as sent_event_type,
        nullif(trim(coalesce(payload ->> 'eventTypeId', payload -> 'eventType' ->> 'id')), '')
            as sent_event_type_id,
        nullif(trim(payload -> 'hosts' -> 0 ->> 'id'), '') as sent_host_user_id,
        nullif(trim(payload -> 'hosts' -> 0 ->> 'name'), '') as sent_host_name,
        nullif(lower(trim(payload -> 'hosts' -> 0 ->> 'email')), '') as sent_host_email,
        nullif(lower(trim(payload -> 'attendees' -> 0 ->> 'email')), '') as sent_booker_email,
        nullif(trim(payload -> 'attendees' -> 0 ->> 'name'), '') as sent_booker_name

    from instants

),

renamed as (

    select
        ---------- ids (null when longer than their limit: `oversized_fields` says which)
        snapshot_id,
        sync_run_id,
        body_sha256,
        {{ bounded('sent_uid', 'uid') }} as booking_uid,
        {{ bounded('sent_rescheduled_from_uid', 'uid') }} as rescheduled_from_uid,
        {{ bounded('sent_rescheduled_to_uid', 'uid') }} as rescheduled_to_uid,
        -- a recurring booking's series (the API says it; webhooks do not)
        {{ bounded('sent_recurring_booking_uid', 'uid') }} as recurring_booking_uid,
        {{ bounded('sent_lead_id', 'lead_id') }} as metadata_lead_id,

        ---------- snapshot
        api_version,
        payload is not null and jsonb_typeof(payload) = 'object' as is_parsed,
        lower(nullif(trim(payload ->> 'status'), '')) as api_status,
        {{ bounded('sent_event_type', 'label') }} as event_type,
        {{ bounded('sent_event_type_id', 'label') }} as event_type_id,
        -- the API's eventType carries only id and slug: no title (the webhooks' eventTitle)
        cast(null as text) as event_type_title,
        nullif(trim(payload ->> 'location'), '') as location,
        -- a seated booking: its attendees carry their seat's uid
        coalesce(jsonb_path_exists(payload, '$.attendees[*].seatUid'), false)
            or coalesce(jsonb_typeof(payload -> 'seatsPerTimeSlot') = 'number'
                        and (payload ->> 'seatsPerTimeSlot')::numeric > 0, false) as is_seated,

        ---------- host (the first host)
        {{ bounded('sent_host_user_id', 'label') }} as host_user_id,
        {{ bounded('sent_host_name', 'name') }} as host_name,
        {{ bounded('sent_host_email', 'email') }} as host_email,
        coalesce(payload ->> 'absentHost' = 'true', false) as is_host_absent,

        ---------- booker (first attendee)
        {{ bounded('sent_booker_email', 'email') }} as booker_email,
        {{ bounded('sent_booker_name', 'name') }} as booker_name,

        ---------- cancellation
        nullif(trim(payload ->> 'cancellationReason'), '') as cancellation_reason,
        nullif(lower(trim(payload ->> 'cancelledByEmail')), '') as cancelled_by,

        ---------- timestamps (null when absent or unreadable; never an error)
        parsed_start_at as start_at,
        parsed_end_at as end_at,
        parsed_created_at as api_created_at,
        parsed_updated_at as api_updated_at,
        nullif(concat_ws(', ',
            case when {{ is_unreadable("payload ->> 'start'", 'parsed_start_at') }} then 'start' end,
            case when {{ is_unreadable("payload ->> 'end'", 'parsed_end_at') }} then 'end' end,
            case when {{ is_unreadable("payload ->> 'createdAt'", 'parsed_created_at') }} then 'createdAt' end,
            case when {{ is_unreadable("payload ->> 'updatedAt'", 'parsed_updated_at') }} then 'updatedAt' end
        ), '') as unreadable_timestamp_fields,
        {{ oversized_fields([
            ('uid', 'sent_uid', 'uid'),
            ('rescheduledFromUid', 'sent_rescheduled_from_uid', 'uid'),
            ('rescheduledToUid', 'sent_rescheduled_to_uid', 'uid'),
            ('recurringBookingUid', 'sent_recurring_booking_uid', 'uid'),
            ('metadata.' ~ var('lead_id_metadata_key'), 'sent_lead_id', 'lead_id'),
            ('eventType.slug', 'sent_event_type', 'label'),
            ('eventTypeId', 'sent_event_type_id', 'label'),
            ('hosts[0].id', 'sent_host_user_id', 'label'),
            ('hosts[0].name', 'sent_host_name', 'name'),
            ('hosts[0].email', 'sent_host_email', 'email'),
            ('attendees[0].email', 'sent_booker_email', 'email'),
            ('attendees[0].name', 'sent_booker_name', 'name'),
        ]) }} as oversized_fields,
        fetched_at,
        cast({{ this_batch() }} as integer) as batch_no,
        {{ staged_xmin() }} as staged_xmin

    from texts

)

select * from renamed
