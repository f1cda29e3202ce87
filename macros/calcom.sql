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

{#- One row per attendee of a Cal.com booking object (webhook body or API booking),
    in the order Cal.com lists them: `attendee.value` and `attendee.ordinality`. A body
    without an attendee array yields no rows. -#}
{% macro explode_attendees(booking) -%}
    cross join lateral jsonb_array_elements(
        case
            when jsonb_typeof({{ booking }} -> 'attendees') = 'array'
                then {{ booking }} -> 'attendees'
            else '[]'::jsonb
        end
    ) with ordinality as attendee (value, ordinality)
{%- endmacro %}

{#- The texts every attendee carries, trimmed (the email lower-cased), blank as null:
    `sent_email`, `sent_name` (bounded later, macros/bounds.sql). -#}
{% macro attendee_texts(attendee) -%}
    nullif(lower(trim({{ attendee }} ->> 'email')), '') as sent_email,
    nullif(trim({{ attendee }} ->> 'name'), '') as sent_name
{%- endmacro %}

{#- A JSON flag that is true or false when Cal.com says so, null otherwise. -#}
{% macro json_flag(value) -%}
    case {{ value }}
        when 'true' then true
        when 'false' then false
    end
{%- endmacro %}

{#- The columns both attendee staging models share, from `sent_uid`, `sent_email`,
    `sent_name`, `sent_seat_uid`, `attendee_position` and `attendee_count`, each text
    bounded (macros/bounds.sql). -#}
{% macro attendee_columns() -%}
    {{ bounded('sent_uid', 'uid') }} as booking_uid,
    cast(attendee_position as integer) as attendee_position,
    attendee_position = attendee_count as is_last_attendee,
    {{ bounded('sent_email', 'email') }} as attendee_email,
    {{ bounded('sent_name', 'name') }} as attendee_name,
    -- the attendee's seat on a seated booking
    {{ bounded('sent_seat_uid', 'uid') }} as seat_uid
{%- endmacro %}

{#- True when one of those texts was longer than its limit (and so set to null). -#}
{% macro attendee_is_oversized() -%}
    length(sent_email) > {{ text_limit('email') }}
    or length(sent_name) > {{ text_limit('name') }}
    or length(sent_seat_uid) > {{ text_limit('uid') }}
{%- endmacro %}
