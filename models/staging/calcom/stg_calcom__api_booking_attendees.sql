{#- One row per attendee of an API booking snapshot, with its `absent` flag (true: a
    no-show mark; false: no evidence either way, like an unmark). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='snapshot_id',
    indexes=[
        {'columns': ['snapshot_id', 'attendee_position'], 'unique': true},
        {'columns': ['booking_uid']},
    ],
) }}

-- depends_on: {{ ref('stg_calcom__api_bookings') }}

with

source as (

    select * from {{ source('calcom', 'calcom_api_bookings') }}
    where payload is not null and jsonb_typeof(payload) = 'object'
    {% if is_incremental() %}
      and snapshot_id in (
          select snapshot_id from {{ ref('stg_calcom__api_bookings') }}
          where {{ is_changed() }}
      )
    {% endif %}

),

attendees as (

    select
        source.snapshot_id,
        source.body_sha256,
        source.fetched_at,
        nullif(trim(source.payload ->> 'uid'), '') as sent_uid,
        attendee.ordinality as attendee_position,
        count(*) over (partition by source.snapshot_id) as attendee_count,
        attendee.value as attendee

    from source
    {{ explode_attendees('source.payload') }}

),

renamed as (

    select
        ---------- ids (null when longer than their limit, macros/bounds.sql)
        snapshot_id,

        ---------- the booking, the attendee and their seat
        {{ attendee_columns() }},
        -- a seat's own metadata (each seat is booked with its own ?metadata[leadId]=…)
        {{ bounded('sent_seat_lead_id', 'lead_id') }} as seat_metadata_lead_id,
        {{ json_flag("attendee ->> 'absent'") }} as is_absent,
        {{ attendee_is_oversized() }}
            or length(sent_seat_lead_id) > {{ text_limit('lead_id') }} as is_oversized,

        ---------- snapshot
        body_sha256,
        fetched_at

    from (
        select
            *,
            {{ attendee_texts('attendee') }},
            nullif(trim(attendee ->> 'seatUid'), '') as sent_seat_uid,
            nullif(trim(attendee -> 'metadata' ->> '{{ var("lead_id_metadata_key") }}'), '')
                as sent_seat_lead_id
        from attendees
    ) as texts

)

select * from renamed
