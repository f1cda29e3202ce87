{#- A stable, non-personal key for a host: the Cal.com user id, else a short hash of the
    organizer's email (no name or email reaches the reporting schema). -#}
{% macro host_key(user_id, email) -%}
    coalesce(
        'user:' || {{ user_id }},
        'email:' || left(md5({{ email }}), 12),
        'unknown'
    )
{%- endmacro %}

{#- Where the meeting happens, from Cal.com's location value: an integration or a link
    is `video`, a phone number or phone type `phone`, other free text (an address)
    `in_person`; a bare key we do not know `other`; none `unknown`. -#}
{% macro location_kind(location) -%}
    case
        when {{ location }} is null then 'unknown'
        when {{ location }} ~* '^(integrations:|https?://)|zoom|meet\.google|teams|daily\.co|whereby|webex|video'
            then 'video'
        when {{ location }} ~* 'phone' or {{ location }} ~ '^\+?[0-9][0-9 ()./-]{5,}$'
            then 'phone'
        when {{ location }} ~* '^(attendee)?in_?person' or {{ location }} ~ '\s' then 'in_person'
        else 'other'
    end
{%- endmacro %}
