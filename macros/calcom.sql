{#- The booking object of a stored Cal.com body: `payload` for the enveloped shape,
    the body itself for the flat MEETING_STARTED / MEETING_ENDED shape. -#}
{% macro calcom_booking_object(body) -%}
    case
        when jsonb_typeof({{ body }} -> 'payload') = 'object' then {{ body }} -> 'payload'
        else {{ body }}
    end
{%- endmacro %}

{#- The uid of one seat of a seated booking: the booking's uid and a digest of the
    attendee's email (trimmed, lower-cased), so that reporting never holds an email.
    Each seat is that attendee's booking (docs/design.md, "Seats"). -#}
{% macro seat_uid(booking_uid, email) -%}
    ({{ booking_uid }} || '#seat-' || left(md5({{ email }}), 12))
{%- endmacro %}

{#- The Cal.com booking uid of a booking uid or a seat uid. -#}
{% macro calcom_uid(uid) -%}
    split_part({{ uid }}, '#seat-', 1)
{%- endmacro %}
