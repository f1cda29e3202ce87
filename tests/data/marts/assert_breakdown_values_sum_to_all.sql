-- Invariant: in each breakdown, the values (hosts, event types) add up to the `all` row.
with rows_by_value as (
    select 'host' as breakdown, week_start, host_key = 'all' as is_all, bookings_made,
        meetings_scheduled, no_shows, completed_meetings
    from {{ ref('rpt_weekly_by_host') }}
    union all
    select 'event_type', week_start, event_type = 'all', bookings_made, meetings_scheduled,
        no_shows, completed_meetings
    from {{ ref('rpt_weekly_by_event_type') }}
)

select breakdown, week_start
from rows_by_value
group by breakdown, week_start
having sum(case when is_all then bookings_made else -bookings_made end) <> 0
    or sum(case when is_all then meetings_scheduled else -meetings_scheduled end) <> 0
    or sum(case when is_all then no_shows else -no_shows end) <> 0
    or sum(case when is_all then completed_meetings else -completed_meetings end) <> 0
