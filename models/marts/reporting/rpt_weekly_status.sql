{{ config(indexes=[{'columns': ['week_start', 'lead_source']}]) }}
{#- One row per (week, lead source) plus an `all` source, for every week from the
    first to the last with activity. Each metric sits on its own week axis:
    lead metrics on lead-created week, booking metrics on booked week, meeting
    metrics on slot-start week. Rates are null when their denominator is 0. -#}
with

bookings as not materialized (

    -- fct_bookings, counted (`n_bookings`: how many fact rows share each row)
    select * from {{ ref('int_weekly_booking_counts') }}

),

lead_metrics as (

    -- dim_leads, counted per lead-created week and source (and `all`)
    select * from {{ ref('int_weekly_lead_counts') }}

),

booking_metrics as (

    select
        booked_week as week_start,
        coalesce(lead_source, 'all') as lead_source,
        {{ booking_counts() }}

    from bookings
    where booked_week is not null
    group by grouping sets ((booked_week, lead_source), (booked_week))

),

meeting_metrics as (

    select
        slot_week as week_start,
        coalesce(lead_source, 'all') as lead_source,
        {{ meeting_counts() }}

    from bookings
    where slot_week is not null
      and {{ is_meeting() }}
    group by grouping sets ((slot_week, lead_source), (slot_week))

),

active_weeks as (

    select week_start from lead_metrics
    union
    select week_start from booking_metrics
    union
    select week_start from meeting_metrics

),

week_spine as (

    select cast(week as date) as week_start
    from generate_series(
        (select cast(min(week_start) as timestamp) from active_weeks),
        (select cast(max(week_start) as timestamp) from active_weeks),
        interval '7 days'
    ) as series (week)

),

sources as (

    select lead_source from lead_metrics
    union
    select lead_source from booking_metrics
    union
    select lead_source from meeting_metrics

),

grid as (

    select
        week_spine.week_start,
        sources.lead_source,
        coalesce(lead_metrics.eligible_leads, 0) as eligible_leads,
        coalesce(lead_metrics.booked_leads, 0) as booked_leads,
        lead_metrics.median_hours_to_book,
        lead_metrics.median_hours_to_book_low,
        lead_metrics.median_hours_to_book_high,
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

    from week_spine
    cross join sources
    left join lead_metrics
        on lead_metrics.week_start = week_spine.week_start
        and lead_metrics.lead_source = sources.lead_source
    left join booking_metrics
        on booking_metrics.week_start = week_spine.week_start
        and booking_metrics.lead_source = sources.lead_source
    left join meeting_metrics
        on meeting_metrics.week_start = week_spine.week_start
        and meeting_metrics.lead_source = sources.lead_source

),

rates as (

    select
        *,
        {{ safe_rate('booked_leads', 'eligible_leads') }} as book_rate,
        {{ safe_rate('rescheduled_bookings', 'bookings_made') }} as reschedule_rate,
        {{ safe_rate('cancelled_bookings', 'bookings_made') }} as cancellation_rate,
        {{ safe_rate('no_shows', 'resolved_meetings') }} as no_show_rate,
        {{ local_midnight('week_start + ' ~ (7 + var('book_window_days')) ) }} > {{ as_of() }}
            as is_book_rate_provisional

    from grid

),

with_prior as (

    select
        *,
        lag(book_rate) over by_source as prev_book_rate,
        lag(reschedule_rate) over by_source as prev_reschedule_rate,
        lag(cancellation_rate) over by_source as prev_cancellation_rate,
        lag(no_show_rate) over by_source as prev_no_show_rate,
        lag(median_hours_to_book) over by_source as prev_median_hours_to_book,
        lag(median_hours_to_book_low) over by_source as prev_median_hours_to_book_low,
        lag(median_hours_to_book_high) over by_source as prev_median_hours_to_book_high,
        {%- for count in rate_counts() %}
        lag({{ count }}) over by_source as prev_{{ count }}{{ ',' if not loop.last }}
        {%- endfor %}

    from rates
    window by_source as (partition by lead_source order by week_start)

),

bounds as (

    select
        *,
        {{ rate_bounds('book_rate', 'booked_leads', 'eligible_leads') }},
        {{ rate_bounds('reschedule_rate', 'rescheduled_bookings', 'bookings_made') }},
        {{ rate_bounds('cancellation_rate', 'cancelled_bookings', 'bookings_made') }},
        {{ rate_bounds('no_show_rate', 'no_shows', 'resolved_meetings') }}

    from with_prior

),

final as (

    select
        cast(week_start as date) as week_start,
        cast(lead_source as text) as lead_source,
        cast(to_char(week_start, 'IYYY-"W"IW') as text) as iso_week,
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
        {%- for count in rate_counts() %}
        cast(prev_{{ count }} as integer) as prev_{{ count }}{{ ',' if not loop.last }}
        {%- endfor %}

    from bounds

)

select * from final
