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
        nullif(trim(source.payload ->> 'uid'), '') as booking_uid,
        attendee.ordinality as attendee_position,
        attendee.value as attendee

    from source
    cross join lateral jsonb_array_elements(
        case
            when jsonb_typeof(source.payload -> 'attendees') = 'array'
                then source.payload -> 'attendees'
            else '[]'::jsonb
        end
    ) with ordinality as attendee (value, ordinality)

),

renamed as (

    select
        ---------- ids
        snapshot_id,
        booking_uid,
        cast(attendee_position as integer) as attendee_position,

        ---------- attendee
        nullif(lower(trim(attendee ->> 'email')), '') as attendee_email,
        case attendee ->> 'absent'
            when 'true' then true
            when 'false' then false
        end as is_absent,

        ---------- snapshot
        body_sha256,
        fetched_at

    from attendees

)

select * from renamed
