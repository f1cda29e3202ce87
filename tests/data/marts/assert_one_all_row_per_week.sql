-- Invariant: every week in the report has exactly one `all` row, and weeks are contiguous.
with weeks as (
    select week_start, count(*) filter (where lead_source = 'all') as all_rows
    from {{ ref('rpt_weekly_status') }}
    group by week_start
),
gaps as (
    select week_start, week_start - lag(week_start) over (order by week_start) as step
    from weeks
)
select weeks.week_start, weeks.all_rows, gaps.step
from weeks
inner join gaps on gaps.week_start = weeks.week_start
where weeks.all_rows <> 1 or gaps.step <> 7
