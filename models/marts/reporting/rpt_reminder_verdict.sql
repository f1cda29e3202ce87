{#- Do reminders work? One row per period (`all`, `last_12_weeks`: slot weeks complete
    before as_of) and lead source (and `all`): meetings with a known outcome (completed
    or no-show) with and without a reminder, and the Mantel–Haenszel difference of their
    no-show rates across the booking lead-time bands (a reminded meeting is compared
    only with meetings booked as far ahead), with its 95% interval and a verdict
    (docs/metrics.md, "Reminders"). Per band b: weight w = n1·n0 / (n1 + n0) (0 when
    either arm is empty); difference = Σ w·(p1 − p0) / Σ w; interval difference ±
    z·sqrt(Σ w²·(p1(1−p1)/n1 + p0(1−p0)/n0)) / Σ w. -#}
with

meetings as not materialized (

    -- resolved meetings of complete slot weeks (`n_bookings`: fact rows per row)
    select * from {{ ref('int_weekly_booking_counts') }}
    where outcome in ('completed', 'no_show')
      and lead_time_band is not null
      and slot_week < {{ week_start(as_of()) }}

),

periods as (

    select 'all' as period, cast(null as date) as first_week
    union all
    select 'last_12_weeks', cast({{ week_start(as_of()) }} - 84 as date)

),

bands as (

    -- each period, source and band: the two arms' meetings and no-shows
    select
        periods.period,
        case when grouping(meetings.lead_source) = 1 then 'all'
            else coalesce(meetings.lead_source, 'unknown') end as lead_source,
        meetings.lead_time_band,
        coalesce(sum(meetings.n_bookings) filter (where meetings.has_reminder), 0) as n1,
        coalesce(sum(meetings.n_bookings)
            filter (where meetings.has_reminder and meetings.outcome = 'no_show'), 0) as x1,
        coalesce(sum(meetings.n_bookings) filter (where not meetings.has_reminder), 0) as n0,
        coalesce(sum(meetings.n_bookings)
            filter (where not meetings.has_reminder and meetings.outcome = 'no_show'), 0) as x0

    from periods
    inner join meetings
        on periods.first_week is null or meetings.slot_week >= periods.first_week
    group by grouping sets ((periods.period, meetings.lead_source, meetings.lead_time_band),
                            (periods.period, meetings.lead_time_band))

),

weighted as (

    select
        *,
        case when n1 > 0 and n0 > 0
            then cast(n1 as double precision) * n0 / (n1 + n0) else 0 end as w,
        case when n1 > 0 then cast(x1 as double precision) / n1 end as p1,
        case when n0 > 0 then cast(x0 as double precision) / n0 end as p0

    from bands

),

pooled as (

    select
        period,
        lead_source,
        sum(n1) as meetings_reminded,
        sum(x1) as no_shows_reminded,
        sum(n0) as meetings_not_reminded,
        sum(x0) as no_shows_not_reminded,
        count(*) filter (where w > 0) as bands_compared,
        sum(w) as total_weight,
        sum(case when w > 0 then w * (p1 - p0) end) as weighted_difference,
        sum(case when w > 0 then w ^ 2 * (p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0) end)
            as weighted_variance

    from weighted
    group by period, lead_source

),

verdicts as (

    select
        *,
        case when total_weight > 0 then weighted_difference / total_weight end as difference,
        case when total_weight > 0
            then {{ z95() }} * sqrt(weighted_variance) / total_weight end as margin

    from pooled

),

spine as (

    -- every period has an `all` row, with meetings or not
    select periods.period, sources.lead_source
    from periods
    cross join (select 'all' as lead_source
                union
                select lead_source from pooled) as sources

),

final as (

    select
        cast(spine.period || ':' || spine.lead_source as text) as reminder_verdict_id,
        cast(spine.period as text) as period,
        cast(spine.lead_source as text) as lead_source,
        cast(coalesce(verdicts.meetings_reminded, 0) as integer) as meetings_reminded,
        cast(coalesce(verdicts.no_shows_reminded, 0) as integer) as no_shows_reminded,
        cast(coalesce(verdicts.meetings_not_reminded, 0) as integer) as meetings_not_reminded,
        cast(coalesce(verdicts.no_shows_not_reminded, 0) as integer) as no_shows_not_reminded,
        cast(coalesce(verdicts.bands_compared, 0) as integer) as bands_compared,
        cast(trim_scale(round(cast(verdicts.difference as numeric), 10)) as numeric) as difference,
        cast(trim_scale(round(cast(verdicts.difference - verdicts.margin as numeric), 10)) as numeric)
            as difference_low,
        cast(trim_scale(round(cast(verdicts.difference + verdicts.margin as numeric), 10)) as numeric)
            as difference_high,
        cast(case
            when coalesce(verdicts.meetings_reminded, 0) < 20
                or coalesce(verdicts.meetings_not_reminded, 0) < 20
                or verdicts.difference is null
                then 'too few meetings'
            when verdicts.difference + verdicts.margin < 0 then 'lower'
            when verdicts.difference - verdicts.margin > 0 then 'higher'
            else 'no clear difference'
        end as text) as verdict

    from spine
    left join verdicts
        on verdicts.period = spine.period
        and verdicts.lead_source = spine.lead_source

)

select * from final
