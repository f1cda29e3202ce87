{#- The booking object of a stored Cal.com body: `payload` for the enveloped shape,
    the body itself for the flat MEETING_STARTED / MEETING_ENDED shape. -#}
{% macro calcom_booking_object(body) -%}
    case
        when jsonb_typeof({{ body }} -> 'payload') = 'object' then {{ body }} -> 'payload'
        else {{ body }}
    end
{%- endmacro %}
