{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_review_scope() }}",
    indexes=[{'columns': ['review_item_id'], 'unique': true},
             {'columns': ['reason', 'since', 'review_item_id']},
             {'columns': ['start_at desc nulls last', 'review_item_id']},
             {'columns': ['booking_id']}, {'columns': ['lead_id']}],
) }}
{#- Everything that needs an owner: past slots with no outcome evidence, slots that
    cannot be real, CRM-vs-Cal.com gaps, and bookings that match no lead. An owner's confirmation removes a slot from
    the queue at the next refresh.

    Kept incrementally: a booking's items depend only on its fact row and its lead's
    CRM row, so a batch rewrites the items of the chains whose outcome it decided
    again (or removed) and of the leads it touched; of the gap items, which move with
    as_of, those of the leads touched and those whose detected_at crossed the grace
    period (macros/incremental.sql, crossed_grace and delete_review_scope). -#}

-- depends_on: {{ ref('int_booking_outcomes') }}
-- depends_on: {{ ref('int_changed_chains') }}
-- depends_on: {{ ref('int_changed_leads') }}

with

bookings as not materialized (

    select * from {{ ref('fct_bookings') }}

),

scoped_bookings as (

    select * from bookings
    {% if is_incremental() %}
    -- the chains decided again, and the other chains of the leads touched: two
    -- disjoint branches, each read by an index
    where booking_id in (
            select booking_id from {{ ref('int_booking_outcomes') }} where {{ is_changed() }})

    union all

    select * from bookings
    where lead_id in (select lead_id from {{ ref('int_changed_leads') }})
      and not exists (
            select 1 from {{ ref('int_booking_outcomes') }} as decided
            where decided.booking_id = bookings.booking_id
              and {{ is_changed('decided.batch_no') }})
    {% endif %}

),

chains as not materialized (

    select * from {{ ref('int_booking_chains') }}

),

gaps as (

    select * from {{ ref('reconciliation_gaps') }}
    {% if is_incremental() %}
    -- the gaps of the leads touched, and those that crossed the grace period
    -- (macros/incremental.sql, crossed_grace)
    where lead_id in (select lead_id from {{ ref('int_changed_leads') }})
       or {{ crossed_grace('detected_at') }}
    {% endif %}

),

leads as not materialized (

    select * from {{ ref('int_crm_leads') }}

),

items as (

    select
        'no_outcome_evidence' as reason,
        booking_id,
        lead_id,
        end_at + interval '1 hour' * {{ var('review_after_hours') }} as since,
        'slot ended with no attendance or no-show evidence' as detail

    from scoped_bookings
    where outcome = 'needs_review'
      and slot_problem is null

    union all

    select
        'suspicious_slot' as reason,
        booking_id,
        lead_id,
        latest_calcom_event_at as since,
        case slot_problem
            when 'end_before_start' then 'the slot ends before it starts'
            else 'the slot starts more than two years from when it was booked'
        end || ': check the booking in Cal.com' as detail

    from scoped_bookings
    where slot_problem is not null

    union all

    select
        gap_type as reason,
        booking_id,
        lead_id,
        detected_at as since,
        'CRM says ' || {{ plain_state('crm_booking_status') }}
            || ', Cal.com says ' || {{ plain_state('calcom_state') }} as detail

    from gaps

    union all

    select
        'unattributed_booking' as reason,
        booking_id,
        lead_id,
        booked_at as since,
        'booking matches no CRM lead (no lead id, no matching email)' as detail

    from scoped_bookings
    where lead_match_method = 'none'

),

final as (

    select
        cast(items.reason || ':' || coalesce(items.booking_id, items.lead_id) as text)
            as review_item_id,
        cast(items.reason as text) as reason,
        cast(items.booking_id as text) as booking_id,
        cast(items.lead_id as text) as lead_id,
        {{ contact_details('leads', 'chains') }},
        cast(bookings.lead_source as text) as lead_source,
        cast(bookings.start_at as timestamptz) as start_at,
        cast(bookings.outcome as text) as outcome,
        cast(items.since as timestamptz) as since,
        cast(items.detail as text) as detail

    from items
    {% if is_incremental() %}
    -- a batch's few thousand items: their names are looked up by index, item by item
    -- (`offset 0` keeps each lookup from becoming a hash join over the whole table)
    left join lateral (
        select fact.lead_source, fact.start_at, fact.outcome
        from bookings as fact where fact.booking_id = items.booking_id offset 0
    ) as bookings on true
    left join lateral (
        select chain.booker_name, chain.booker_email
        from chains as chain where chain.booking_id = items.booking_id offset 0
    ) as chains on true
    left join lateral (
        select lead.lead_name, lead.lead_email
        from leads as lead where lead.lead_id = items.lead_id offset 0
    ) as leads on true
    {% else %}
    left join bookings on bookings.booking_id = items.booking_id
    left join chains on chains.booking_id = items.booking_id
    left join leads on leads.lead_id = items.lead_id
    {% endif %}

)

select * from final
