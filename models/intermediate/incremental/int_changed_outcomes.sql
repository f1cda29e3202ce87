{#- Incremental refresh, step 4: the chains whose outcome a batch decides again. The
    chains it matched again (their uids, lead or CRM row changed), those with an
    owner's confirmation, and those whose clock crossed a boundary since the last
    batch's as_of (macros/incremental.sql, crossed_clock). A small analyzed table, so
    that the outcomes model reads events and attendees by index for these chains
    only. Each branch reads the chains by an index. Empty in a --full-refresh. -#}
{{ config(materialized='table',
          indexes=[{'columns': ['booking_id'], 'unique': true},
                   {'columns': ['current_booking_uid']}, {'columns': ['current_calcom_uid']}]) }}

-- depends_on: {{ ref('int_bookings_matched_to_leads') }}
-- depends_on: {{ ref('stg_review__manual_outcomes') }}
-- depends_on: {{ ref('int_changed_chains') }}

with

scope as (

    {% if flags.FULL_REFRESH %}
    select cast(null as text) as booking_id where false
    {% else %}
    select matches.booking_id
    from {{ ref('int_bookings_matched_to_leads') }} as matches
    where {{ is_changed('matches.batch_no') }}

    union

    select booking_id from {{ ref('stg_review__manual_outcomes') }}

    union

    select chains.booking_id
    from {{ ref('int_booking_chains') }} as chains
    where {{ crossed_clock('chains.end_at') }}

    union

    -- the other occurrences of a recurring series whose chains the batch touched: a
    -- "cancel all remaining" (or a word that undoes it) decides theirs again
    select siblings.booking_id
    from {{ ref('int_booking_chains') }} as touched
    inner join {{ ref('int_booking_chains') }} as siblings
        on siblings.booker_email = touched.booker_email
    where touched.booking_id in (select booking_uid from {{ ref('int_changed_chains') }})
      and touched.has_recurring_event
      and siblings.has_recurring_event
    {% endif %}

)

select
    chains.booking_id,
    chains.current_booking_uid,
    chains.current_calcom_uid

from {{ ref('int_booking_chains') }} as chains
inner join scope on scope.booking_id = chains.booking_id
