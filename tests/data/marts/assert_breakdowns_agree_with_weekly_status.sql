-- Invariant: the `all` row of each breakdown (host, event type) equals the `all` row of
-- rpt_weekly_status for every booking and meeting metric, week by week.
with breakdown_all as (
    select 'host' as breakdown, week_start, bookings_made, rescheduled_bookings,
        cancelled_bookings, meetings_scheduled, upcoming_meetings, completed_meetings,
        no_shows, host_no_shows, awaiting_outcome, needs_review
    from {{ ref('rpt_weekly_by_host') }} where host_key = 'all'
    union all
    select 'event_type', week_start, bookings_made, rescheduled_bookings,
        cancelled_bookings, meetings_scheduled, upcoming_meetings, completed_meetings,
        no_shows, host_no_shows, awaiting_outcome, needs_review
    from {{ ref('rpt_weekly_by_event_type') }} where event_type = 'all'
),

weekly_all as (
    select week_start, bookings_made, rescheduled_bookings, cancelled_bookings,
        meetings_scheduled, upcoming_meetings, completed_meetings, no_shows, host_no_shows,
        awaiting_outcome, needs_review
    from {{ ref('rpt_weekly_status') }} where lead_source = 'all'
)

select breakdown_all.breakdown, breakdown_all.week_start
from breakdown_all
full outer join weekly_all on weekly_all.week_start = breakdown_all.week_start
where breakdown_all.week_start is null or weekly_all.week_start is null
   or (breakdown_all.bookings_made, breakdown_all.rescheduled_bookings,
       breakdown_all.cancelled_bookings, breakdown_all.meetings_scheduled,
       breakdown_all.upcoming_meetings, breakdown_all.completed_meetings,
       breakdown_all.no_shows, breakdown_all.host_no_shows, breakdown_all.awaiting_outcome,
       breakdown_all.needs_review)
      is distinct from
      (weekly_all.bookings_made, weekly_all.rescheduled_bookings,
       weekly_all.cancelled_bookings, weekly_all.meetings_scheduled,
       weekly_all.upcoming_meetings, weekly_all.completed_meetings, weekly_all.no_shows,
       weekly_all.host_no_shows, weekly_all.awaiting_outcome, weekly_all.needs_review)
