{#- One row per attendee listed in an event, with the event's noShow flag for that
    attendee (meaningful as a mark only on BOOKING_NO_SHOW_UPDATED). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='event_id',
    indexes=[
        {'columns': ['event_id', 'attendee_position'], 'unique': true},
        {'columns': ['booking_uid']},
    ],
) }}

-- depends_on: {{ ref('stg_calcom__webhook_events') }}

with

source as (

    select * from {{ source('calcom', 'calcom_webhook_events') }}
    where payload is not null
    {% if is_incremental() %}
      -- the bodies staged by a batch not yet done
      and event_id in (
          select event_id from {{ ref('stg_calcom__webhook_events') }}
          where {{ is_changed() }}
      )
    {% endif %}

),

enveloped as (

    select
        event_id,
        body_sha256,
        payload ->> 'triggerEvent' as trigger_event,
        {{ safe_timestamptz("payload ->> 'createdAt'") }} as sent_at,
        {{ calcom_booking_object('payload') }} as booking

    from source
    -- a fence (offset 0): parsed and extracted once per body, not once per attendee
    offset 0

),

attendees as (

    select
        enveloped.event_id,
        enveloped.trigger_event,
        enveloped.sent_at,
        nullif(trim(coalesce(enveloped.booking ->> 'uid', enveloped.booking ->> 'bookingUid')), '')
            as sent_uid,
        count(*) over (partition by enveloped.event_id) as attendee_count,
        attendee.ordinality as attendee_position,
        attendee.value as attendee,
        enveloped.body_sha256

    from enveloped
    {{ explode_attendees('enveloped.booking') }}

),

renamed as (

    select
        ---------- ids (null when longer than their limit, macros/bounds.sql)
        event_id,

        ---------- the booking, the attendee and their seat (Person.bookingSeat)
        {{ attendee_columns() }},
        {{ json_flag("attendee ->> 'noShow'") }} as is_no_show,
        {{ attendee_is_oversized() }} as is_oversized,

        ---------- event
        trigger_event,
        body_sha256,
        sent_at

    from (
        select
            *,
            {{ attendee_texts('attendee') }},
            nullif(trim(attendee -> 'bookingSeat' ->> 'referenceUid'), '') as sent_seat_uid
        from attendees
    ) as texts

)

select * from renamed
