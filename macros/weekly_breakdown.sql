{#- The weekly booking and meeting counts, defined once for rpt_weekly_status and every
    breakdown: bookings on the booked week, meetings (accepted chains by current slot,
    whatever their outcome) on the slot week. They sum `int_weekly_booking_counts`
    (`n_bookings`: how many fact rows share the combination). -#}
{% macro booking_counts() -%}
    sum(n_bookings) as bookings_made,
        coalesce(sum(n_bookings) filter (where is_rescheduled), 0) as rescheduled_bookings,
        coalesce(sum(n_bookings) filter (where outcome = 'cancelled'), 0) as cancelled_bookings
{%- endmacro %}

{% macro is_meeting() -%}
    outcome in (
          'upcoming', 'awaiting_outcome', 'needs_review', 'completed', 'no_show', 'host_no_show'
      )
{%- endmacro %}

{% macro meeting_counts() -%}
    sum(n_bookings) as meetings_scheduled,
        coalesce(sum(n_bookings) filter (where outcome = 'upcoming'), 0) as upcoming_meetings,
        coalesce(sum(n_bookings) filter (where outcome = 'completed'), 0) as completed_meetings,
        coalesce(sum(n_bookings) filter (where outcome = 'no_show'), 0) as no_shows,
        coalesce(sum(n_bookings) filter (where outcome = 'host_no_show'), 0) as host_no_shows,
        coalesce(sum(n_bookings) filter (where outcome = 'awaiting_outcome'), 0) as awaiting_outcome,
        coalesce(sum(n_bookings) filter (where outcome = 'needs_review'), 0) as needs_review
{%- endmacro %}

{#- The weekly grid, defined once for `rpt_weekly_status` (by lead source, with the lead
    metrics: `leads=true`) and every breakdown by one column of fct_bookings (host, event
    type): every week from the first to the last with activity (a breakdown takes the
    status's weeks), zero-filled weeks, an `all` row, rates null when their denominator is
    0, the prior week's rates and counts, and each change with its 95% interval
    (macros/uncertainty.sql). Each metric sits on its own week axis: lead metrics on the
    lead-created week, booking metrics on the booked week, meeting metrics on the slot
    week. A null value of the column is `unknown`. Lead metrics are only by lead source:
    a lead has no host or event type. -#}
{% macro weekly_breakdown(dimension, leads=false) %}
with

bookings as not materialized (

    -- fct_bookings, counted (`n_bookings`: how many fact rows share each row)
    select
        *,
        coalesce(cast({{ dimension }} as text), 'unknown') as dimension_value

    from {{ ref('int_weekly_booking_counts') }}

),
{% if leads %}
lead_metrics as (

    -- dim_leads, counted per lead-created week and source (and `all`)
    select
        week_start,
        lead_source as dimension_value,
        eligible_leads,
        booked_leads,
        median_hours_to_book,
        median_hours_to_book_low,
        median_hours_to_book_high

    from {{ ref('int_weekly_lead_counts') }}

),
{% endif %}
booking_metrics as (

    select
        booked_week as week_start,
        case when grouping(dimension_value) = 1 then 'all' else dimension_value end
            as dimension_value,
        {{ booking_counts() }}

    from bookings
    where booked_week is not null
    group by grouping sets ((booked_week, dimension_value), (booked_week))

),

meeting_metrics as (

    select
        slot_week as week_start,
        case when grouping(dimension_value) = 1 then 'all' else dimension_value end
            as dimension_value,
        {{ meeting_counts() }}

    from bookings
    where slot_week is not null
      and {{ is_meeting() }}
    group by grouping sets ((slot_week, dimension_value), (slot_week))

),
{% if leads %}
active_weeks as (

    select week_start from lead_metrics
    union
    select week_start from booking_metrics
    union
    select week_start from meeting_metrics

),

spine as (

    select cast(week as date) as week_start
    from generate_series(
        (select cast(min(week_start) as timestamp) from active_weeks),
        (select cast(max(week_start) as timestamp) from active_weeks),
        interval '7 days'
    ) as series (week)

),
{% else %}
spine as (

    select distinct week_start from {{ ref('rpt_weekly_status') }}

),
{% endif %}
dimension_values as (

    select 'all' as dimension_value
    {%- if leads %}
    union
    select dimension_value from lead_metrics
    {%- endif %}
    union
    select dimension_value from booking_metrics
    union
    select dimension_value from meeting_metrics

),

grid as (

    select
        spine.week_start,
        dimension_values.dimension_value,
        {%- if leads %}
        coalesce(lead_metrics.eligible_leads, 0) as eligible_leads,
        coalesce(lead_metrics.booked_leads, 0) as booked_leads,
        lead_metrics.median_hours_to_book,
        lead_metrics.median_hours_to_book_low,
        lead_metrics.median_hours_to_book_high,
        {%- endif %}
        coalesce(booking_metrics.bookings_made, 0) as bookings_made,
        coalesce(booking_metrics.rescheduled_bookings, 0) as rescheduled_bookings,
        coalesce(booking_metrics.cancelled_bookings, 0) as cancelled_bookings,
        coalesce(meeting_metrics.meetings_scheduled, 0) as meetings_scheduled,
        coalesce(meeting_metrics.upcoming_meetings, 0) as upcoming_meetings,
        coalesce(meeting_metrics.completed_meetings, 0) as completed_meetings,
        coalesce(meeting_metrics.no_shows, 0) as no_shows,
        -- the no-show rate's denominator: meetings with a known outcome
        coalesce(meeting_metrics.completed_meetings, 0) + coalesce(meeting_metrics.no_shows, 0)
            as resolved_meetings,
        coalesce(meeting_metrics.host_no_shows, 0) as host_no_shows,
        coalesce(meeting_metrics.awaiting_outcome, 0) as awaiting_outcome,
        coalesce(meeting_metrics.needs_review, 0) as needs_review

    from spine
    cross join dimension_values
    {%- if leads %}
    left join lead_metrics
        on lead_metrics.week_start = spine.week_start
        and lead_metrics.dimension_value = dimension_values.dimension_value
    {%- endif %}
    left join booking_metrics
        on booking_metrics.week_start = spine.week_start
        and booking_metrics.dimension_value = dimension_values.dimension_value
    left join meeting_metrics
        on meeting_metrics.week_start = spine.week_start
        and meeting_metrics.dimension_value = dimension_values.dimension_value

),

rates as (

    select
        *,
        {%- if leads %}
        {{ safe_rate('booked_leads', 'eligible_leads') }} as book_rate,
        {{ local_midnight('week_start + ' ~ (7 + var('book_window_days')) ) }} > {{ as_of() }}
            as is_book_rate_provisional,
        {%- endif %}
        {{ safe_rate('rescheduled_bookings', 'bookings_made') }} as reschedule_rate,
        {{ safe_rate('cancelled_bookings', 'bookings_made') }} as cancellation_rate,
        {{ safe_rate('no_shows', 'resolved_meetings') }} as no_show_rate

    from grid

),

with_prior as (

    select
        *,
        {%- if leads %}
        lag(book_rate) over by_value as prev_book_rate,
        lag(median_hours_to_book) over by_value as prev_median_hours_to_book,
        lag(median_hours_to_book_low) over by_value as prev_median_hours_to_book_low,
        lag(median_hours_to_book_high) over by_value as prev_median_hours_to_book_high,
        {%- endif %}
        lag(reschedule_rate) over by_value as prev_reschedule_rate,
        lag(cancellation_rate) over by_value as prev_cancellation_rate,
        lag(no_show_rate) over by_value as prev_no_show_rate,
        {%- for count in rate_counts(with_leads=leads) %}
        lag({{ count }}) over by_value as prev_{{ count }}{{ ',' if not loop.last }}
        {%- endfor %}

    from rates
    window by_value as (partition by dimension_value order by week_start)

),

bounds as (

    select
        *,
        {%- if leads %}
        {{ rate_bounds('book_rate', 'booked_leads', 'eligible_leads') }},
        {%- endif %}
        {{ rate_bounds('reschedule_rate', 'rescheduled_bookings', 'bookings_made') }},
        {{ rate_bounds('cancellation_rate', 'cancelled_bookings', 'bookings_made') }},
        {{ rate_bounds('no_show_rate', 'no_shows', 'resolved_meetings') }}

    from with_prior

),

final as (

    select
        cast(week_start as date) as week_start,
        cast(dimension_value as text) as {{ dimension }},
        cast(to_char(week_start, 'IYYY-"W"IW') as text) as iso_week,
        {%- if leads %}
        cast(eligible_leads as integer) as eligible_leads,
        cast(booked_leads as integer) as booked_leads,
        cast(book_rate as numeric) as book_rate,
        {{ rate_change('book_rate', 'booked_leads', 'eligible_leads') }},
        cast(is_book_rate_provisional as boolean) as is_book_rate_provisional,
        cast(trim_scale(cast(median_hours_to_book as numeric)) as numeric) as median_hours_to_book,
        cast(trim_scale(cast(median_hours_to_book_low as numeric)) as numeric)
            as median_hours_to_book_low,
        cast(trim_scale(cast(median_hours_to_book_high as numeric)) as numeric)
            as median_hours_to_book_high,
        cast(trim_scale(cast(prev_median_hours_to_book as numeric)) as numeric)
            as prev_median_hours_to_book,
        cast(trim_scale(cast(median_hours_to_book - prev_median_hours_to_book as numeric)) as numeric)
            as delta_median_hours_to_book,
        -- clear: at least 10 booked leads in each week, and the two medians' 95%
        -- intervals apart (a conservative rule: docs/metrics.md, "Is a change real?")
        cast(coalesce(booked_leads >= 10 and prev_booked_leads >= 10 and (
            median_hours_to_book_low > prev_median_hours_to_book_high
            or median_hours_to_book_high < prev_median_hours_to_book_low), false) as boolean)
            as is_median_hours_to_book_change_clear,
        {%- endif %}
        cast(bookings_made as integer) as bookings_made,
        cast(rescheduled_bookings as integer) as rescheduled_bookings,
        cast(reschedule_rate as numeric) as reschedule_rate,
        {{ rate_change('reschedule_rate', 'rescheduled_bookings', 'bookings_made') }},
        cast(cancelled_bookings as integer) as cancelled_bookings,
        cast(cancellation_rate as numeric) as cancellation_rate,
        {{ rate_change('cancellation_rate', 'cancelled_bookings', 'bookings_made') }},
        cast(meetings_scheduled as integer) as meetings_scheduled,
        cast(upcoming_meetings as integer) as upcoming_meetings,
        cast(completed_meetings as integer) as completed_meetings,
        cast(no_shows as integer) as no_shows,
        cast(resolved_meetings as integer) as resolved_meetings,
        cast(host_no_shows as integer) as host_no_shows,
        cast(awaiting_outcome as integer) as awaiting_outcome,
        cast(needs_review as integer) as needs_review,
        cast(no_show_rate as numeric) as no_show_rate,
        {{ rate_change('no_show_rate', 'no_shows', 'resolved_meetings') }},
        -- the prior week's counts: last week's "n of N"
        {%- for count in rate_counts(with_leads=leads) %}
        cast(prev_{{ count }} as integer) as prev_{{ count }}{{ ',' if not loop.last }}
        {%- endfor %}

    from bounds

)

select * from final
{% endmacro %}

{#- The reminder effect's four sums of `n_bookings` (int_weekly_booking_counts rows). -#}
{% macro reminder_sums() -%}
        sum(n_bookings) filter (where has_reminder) as with_reminder_meetings,
        sum(n_bookings) filter (where has_reminder and outcome = 'no_show')
            as with_reminder_no_shows,
        sum(n_bookings) filter (where not has_reminder) as without_reminder_meetings,
        sum(n_bookings) filter (where not has_reminder and outcome = 'no_show')
            as without_reminder_no_shows
{%- endmacro %}
