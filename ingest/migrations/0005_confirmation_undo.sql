-- An owner can undo a confirmation from the review queue: an `undone` row is the latest
-- word for that booking, so no confirmation applies at the next refresh.
alter table raw.manual_outcomes drop constraint if exists manual_outcomes_outcome_check;
alter table raw.manual_outcomes add constraint manual_outcomes_outcome_check
    check (outcome in ('completed', 'no_show', 'host_no_show', 'cancelled', 'undone'));
