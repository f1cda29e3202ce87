{#- `fct_bookings` counted once per combination of everything a weekly mart groups or
    filters on (weeks, lead source, host, event type, outcome, reschedule, reminder,
    lead-time band). The weekly status, its breakdowns and the reminder effect sum
    these counts instead of each reading every fact row: at a million leads that is
    one pass over the facts instead of four. Rebuilt whole on every refresh (outcomes
    move with as_of). -#}
{{ config(materialized='table') }}

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
group by
    booked_week, slot_week, lead_source, host_key, event_type, outcome, is_rescheduled,
    has_reminder, lead_time_band
