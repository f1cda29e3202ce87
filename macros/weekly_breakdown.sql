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

{#- Weekly booking and meeting metrics broken down by one column of fct_bookings, with
    the rules of rpt_weekly_status's lead-source rows: the same week spine (every week
    from the first to the last with activity), zero-filled weeks, an `all` row, prior
    week and deltas, rates null when their denominator is 0. A null value is `unknown`.
    Lead metrics are not here: a lead has no host or event type. -#}
{% macro weekly_breakdown(dimension) %}
with

bookings as (

    select
        *,
        coalesce(cast({{ dimension }} as text), 'unknown') as dimension_value

    from {{ ref('int_weekly_booking_counts') }}

),

spine as (

    select distinct week_start from {{ ref('rpt_weekly_status') }}

),

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

dimension_values as (

    select 'all' as dimension_value
    union
    select dimension_value from booking_metrics
    union
    select dimension_value from meeting_metrics

),

grid as (

    select
        spine.week_start,
        dimension_values.dimension_value,
        coalesce(booking_metrics.bookings_made, 0) as bookings_made,
        coalesce(booking_metrics.rescheduled_bookings, 0) as rescheduled_bookings,
        coalesce(booking_metrics.cancelled_bookings, 0) as cancelled_bookings,
        coalesce(meeting_metrics.meetings_scheduled, 0) as meetings_scheduled,
        coalesce(meeting_metrics.upcoming_meetings, 0) as upcoming_meetings,
        coalesce(meeting_metrics.completed_meetings, 0) as completed_meetings,
        coalesce(meeting_metrics.no_shows, 0) as no_shows,
        coalesce(meeting_metrics.completed_meetings, 0) + coalesce(meeting_metrics.no_shows, 0)
            as resolved_meetings,
        coalesce(meeting_metrics.host_no_shows, 0) as host_no_shows,
        coalesce(meeting_metrics.awaiting_outcome, 0) as awaiting_outcome,
        coalesce(meeting_metrics.needs_review, 0) as needs_review

    from spine
    cross join dimension_values
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
        {{ safe_rate('rescheduled_bookings', 'bookings_made') }} as reschedule_rate,
        {{ safe_rate('cancelled_bookings', 'bookings_made') }} as cancellation_rate,
        {{ safe_rate('no_shows', 'resolved_meetings') }} as no_show_rate

    from grid

),

with_prior as (

    select
        *,
        lag(reschedule_rate) over by_value as prev_reschedule_rate,
        lag(cancellation_rate) over by_value as prev_cancellation_rate,
        lag(no_show_rate) over by_value as prev_no_show_rate,
        {%- for count in rate_counts(with_leads=false) %}
        lag({{ count }}) over by_value as prev_{{ count }}{{ ',' if not loop.last }}
        {%- endfor %}

    from rates
    window by_value as (partition by dimension_value order by week_start)

),

bounds as (

    select
        *,
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
        {%- for count in rate_counts(with_leads=false) %}
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
