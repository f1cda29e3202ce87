{#- `fct_bookings` counted once per combination of everything a weekly mart groups or
    filters on (weeks, lead source, host, event type, outcome, reschedule, reminder,
    lead-time band). The weekly status, its breakdowns and the reminder effect sum
    these counts instead of each reading every fact row. Kept by booked week: a batch
    counts again only the booked weeks it touched (macros/incremental.sql,
    `touched_booked_weeks`), so a refresh does not read the whole history of facts.
    Outcomes that move with as_of are in the batch already (the clock-boundary rule
    decides those chains again, and `fct_bookings` rewrites them). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_weeks('booked_week', touched_booked_weeks()) }}",
) }}

-- depends_on: {{ ref('int_replaced_fact_weeks') }}
-- depends_on: {{ ref('int_booking_outcomes') }}

select
    booked_week,
    slot_week,
    lead_source,
    host_key,
    event_type,
    outcome,
    is_rescheduled,
    has_reminder,
    lead_time_band,
    count(*) as n_bookings

from {{ ref('fct_bookings') }}
{% if is_incremental() %}
where {{ in_touched_weeks('booked_week', touched_booked_weeks()) }}
{% endif %}
group by
    booked_week, slot_week, lead_source, host_key, event_type, outcome, is_rescheduled,
    has_reminder, lead_time_band
