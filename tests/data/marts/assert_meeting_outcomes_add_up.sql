-- Invariant: the six meeting outcomes add up to meetings_scheduled in every row.
select week_start, lead_source, meetings_scheduled
from {{ ref('rpt_weekly_status') }}
where upcoming_meetings + completed_meetings + no_shows + host_no_shows
    + awaiting_outcome + needs_review <> meetings_scheduled
