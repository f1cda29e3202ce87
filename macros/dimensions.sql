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

{#- A booking or meeting state in the owner's words (never a status code on the page). -#}
{% macro plain_state(state) -%}
    case {{ state }}
        when 'needs_review' then 'no outcome yet'
        when 'awaiting_outcome' then 'awaiting an outcome'
        when 'no_show' then 'no-show'
        when 'host_no_show' then 'host no-show'
        when 'pending' then 'awaiting confirmation'
        when 'none' then 'no booking'
        else coalesce(replace({{ state }}, '_', ' '), 'nothing')
    end
{%- endmacro %}

{#- Who to contact about a booking: the CRM's lead when the booking is matched to one,
    else the person who booked (the follow-up list and the review queue say the same). -#}
{% macro contact_details(leads, booker) -%}
    cast(coalesce({{ leads }}.lead_name, {{ booker }}.booker_name) as text) as contact_name,
    cast(coalesce({{ leads }}.lead_email, {{ booker }}.booker_email) as text) as contact_email
{%- endmacro %}

{#- A review reason's place in the order of what needs the owner's answer (null for the
    CRM's disagreements, which the page lists apart): a meeting the queue holds for two
    reasons is listed once, under the first. report/data.py's ANSWER_REASONS is the same
    order (tests/python/test_report.py checks they agree). -#}
{% macro answer_rank(reason) -%}
    array_position(
        array['no_outcome_evidence', 'outcome_conflict', 'suspicious_slot',
              'unattributed_booking'],
        {{ reason }})
{%- endmacro %}
