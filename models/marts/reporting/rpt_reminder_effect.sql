{#- No-show rate with and without a reminder, within booking-lead-time bands. A raw
    with/without comparison is confounded (reminders go to bookings made days ahead,
    which no-show more anyway), so compare inside a band. `all_bands` is that raw
    comparison, shown for contrast. Only resolved meetings (completed or no-show). -#}
with

bookings as not materialized (

    -- fct_bookings, counted (`n_bookings`: how many fact rows share each row)
    select * from {{ ref('int_weekly_booking_counts') }}
    where outcome in ('completed', 'no_show')
      and lead_time_band is not null

),

bands as (

    select band_order, lead_time_band from (values
        (1, 'same_day'), (2, '1_2_days'), (3, '3_7_days'), (4, '8_14_days'),
        (5, '15_plus_days'), (6, 'all_bands')
    ) as band_list (band_order, lead_time_band)

),

banded as (

    select slot_week, lead_time_band, has_reminder, outcome, n_bookings from bookings
    union all
    select slot_week, 'all_bands' as lead_time_band, has_reminder, outcome, n_bookings
    from bookings

),

periods as (

    -- one overall period, plus every slot week with a resolved meeting
    select 'overall' as period, cast(null as date) as week_start
    union all
    select distinct 'week' as period, slot_week as week_start from bookings

),

sums as (

    -- each slot week's sums and the overall ones, each one hashed group: a join of every
    -- period with the counts on `overall or same week` could not be hashed, and read
    -- all of them once per week (it grew with the square of the weeks of history)
    select
        'week' as period,
        slot_week as week_start,
        lead_time_band,
        {{ reminder_sums() }}
    from banded
    where slot_week is not null
    group by slot_week, lead_time_band

    union all

    select
        'overall' as period,
        cast(null as date) as week_start,
        lead_time_band,
        {{ reminder_sums() }}
    from banded
    group by lead_time_band

),

combined as (

    select
        periods.period,
        periods.week_start,
        bands.band_order,
        bands.lead_time_band,
        coalesce(sums.with_reminder_meetings, 0) as with_reminder_meetings,
        coalesce(sums.with_reminder_no_shows, 0) as with_reminder_no_shows,
        coalesce(sums.without_reminder_meetings, 0) as without_reminder_meetings,
        coalesce(sums.without_reminder_no_shows, 0) as without_reminder_no_shows

    from periods
    cross join bands
    left join sums
        on sums.period = periods.period
        and coalesce(sums.week_start, date 'infinity')
            = coalesce(periods.week_start, date 'infinity')
        and sums.lead_time_band = bands.lead_time_band

),

final as (

    select
        cast(period || ':' || coalesce(cast(week_start as text), 'all') || ':' || lead_time_band
            as text) as reminder_effect_id,
        cast(period as text) as period,
        cast(week_start as date) as week_start,
        cast(lead_time_band as text) as lead_time_band,
        cast(band_order as integer) as band_order,
        cast(with_reminder_meetings as integer) as with_reminder_meetings,
        cast(with_reminder_no_shows as integer) as with_reminder_no_shows,
        cast({{ safe_rate('with_reminder_no_shows', 'with_reminder_meetings') }} as numeric)
            as with_reminder_no_show_rate,
        cast(without_reminder_meetings as integer) as without_reminder_meetings,
        cast(without_reminder_no_shows as integer) as without_reminder_no_shows,
        cast({{ safe_rate('without_reminder_no_shows', 'without_reminder_meetings') }} as numeric)
            as without_reminder_no_show_rate,
        cast(trim_scale(
            {{ safe_rate('with_reminder_no_shows', 'with_reminder_meetings') }}
            - {{ safe_rate('without_reminder_no_shows', 'without_reminder_meetings') }}
        ) as numeric) as no_show_rate_difference

    from combined

)

select * from final
