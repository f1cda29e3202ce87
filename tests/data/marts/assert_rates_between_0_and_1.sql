-- Invariant: every rate is a fraction in [0, 1] (or null when its denominator is 0),
-- and null exactly when its denominator is 0.
select week_start, lead_source
from {{ ref('rpt_weekly_status') }}
where book_rate not between 0 and 1
   or reschedule_rate not between 0 and 1
   or cancellation_rate not between 0 and 1
   or no_show_rate not between 0 and 1
   or (book_rate is null) <> (eligible_leads = 0)
   or (reschedule_rate is null) <> (bookings_made = 0)
   or (no_show_rate is null) <> (completed_meetings + no_shows = 0)
   or booked_leads > eligible_leads
