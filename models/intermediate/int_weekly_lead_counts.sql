{#- The weekly status's lead metrics per lead-created week and lead source, plus an
    `all` row per week (a null source from the grouping set): eligible leads, those
    booked within the window, and the median hours to book. Kept by week: a batch counts
    again only the lead-created weeks of the leads it rewrote, old and new
    (macros/incremental.sql, `touched_lead_weeks`), instead of reading every lead on
    each refresh. `dim_leads` does not move with as_of. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_weeks('week_start', touched_lead_weeks()) }}",
) }}

-- depends_on: {{ ref('int_replaced_lead_weeks') }}
-- depends_on: {{ ref('int_changed_leads') }}

with

counted as (

    select
        lead_created_week as week_start,
        coalesce(lead_source, 'all') as lead_source,
        count(case when is_eligible then 1 end) as eligible_leads,
        count(case when is_eligible and is_booked_within_window then 1 end) as booked_leads,
        percentile_cont(0.5) within group (order by hours_to_book)
            filter (where is_eligible and is_booked_within_window) as median_hours_to_book,
        -- the booked leads' hours in order: the median's interval is two of them
        array_agg(hours_to_book order by hours_to_book)
            filter (where is_eligible and is_booked_within_window) as sorted_hours

    from {{ ref('dim_leads') }}
    {% if is_incremental() %}
    where {{ in_touched_weeks('lead_created_week', touched_lead_weeks()) }}
    {% endif %}
    group by grouping sets ((lead_created_week, lead_source), (lead_created_week))

)

select
    week_start,
    lead_source,
    eligible_leads,
    booked_leads,
    median_hours_to_book,
    -- the distribution-free 95% interval of the median (macros/uncertainty.sql)
    sorted_hours[{{ median_rank('booked_leads', 'low') }}] as median_hours_to_book_low,
    sorted_hours[{{ median_rank('booked_leads', 'high') }}] as median_hours_to_book_high

from counted
