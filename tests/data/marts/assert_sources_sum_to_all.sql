-- Invariant: the per-source rows of a week add up to its `all` row.
with by_source as (
    select
        week_start,
        sum(eligible_leads) as eligible_leads,
        sum(booked_leads) as booked_leads,
        sum(bookings_made) as bookings_made,
        sum(meetings_scheduled) as meetings_scheduled,
        sum(no_shows) as no_shows
    from {{ ref('rpt_weekly_status') }}
    where lead_source <> 'all'
    group by week_start
)
select all_row.week_start
from {{ ref('rpt_weekly_status') }} as all_row
inner join by_source on by_source.week_start = all_row.week_start
where all_row.lead_source = 'all'
  and (all_row.eligible_leads, all_row.booked_leads, all_row.bookings_made,
       all_row.meetings_scheduled, all_row.no_shows)
      is distinct from
      (by_source.eligible_leads, by_source.booked_leads, by_source.bookings_made,
       by_source.meetings_scheduled, by_source.no_shows)
