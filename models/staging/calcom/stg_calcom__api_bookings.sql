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

renamed as (

    select
        ---------- ids
        snapshot_id,
        sync_run_id,
        body_sha256,
        nullif(trim(payload ->> 'uid'), '') as booking_uid,
        nullif(trim(payload ->> 'rescheduledFromUid'), '') as rescheduled_from_uid,
        nullif(trim(payload ->> 'rescheduledToUid'), '') as rescheduled_to_uid,
        nullif(trim(payload -> 'metadata' ->> '{{ var("lead_id_metadata_key") }}'), '')
            as metadata_lead_id,

        ---------- snapshot
        api_version,
        payload is not null and jsonb_typeof(payload) = 'object' as is_parsed,
        lower(nullif(trim(payload ->> 'status'), '')) as api_status,
        nullif(trim(coalesce(payload -> 'eventType' ->> 'slug', payload ->> 'eventTypeSlug')), '')
            as event_type,
        nullif(trim(coalesce(payload ->> 'eventTypeId', payload -> 'eventType' ->> 'id')), '')
            as event_type_id,
        nullif(trim(payload -> 'eventType' ->> 'title'), '') as event_type_title,
        nullif(trim(payload ->> 'location'), '') as location,

        ---------- host (the first host)
        nullif(trim(payload -> 'hosts' -> 0 ->> 'id'), '') as host_user_id,
        nullif(trim(payload -> 'hosts' -> 0 ->> 'name'), '') as host_name,
        nullif(lower(trim(payload -> 'hosts' -> 0 ->> 'email')), '') as host_email,
        coalesce(payload ->> 'absentHost' = 'true', false) as is_host_absent,

        ---------- booker (first attendee)
        nullif(lower(trim(payload -> 'attendees' -> 0 ->> 'email')), '') as booker_email,
        nullif(trim(payload -> 'attendees' -> 0 ->> 'name'), '') as booker_name,

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
        fetched_at,
        cast({{ this_batch() }} as integer) as batch_no,
        {{ staged_xmin() }} as staged_xmin

    from instants

)

select * from renamed
