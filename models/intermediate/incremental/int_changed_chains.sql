{#- Incremental refresh, step 2: every uid of every chain a batch touches. The uids it
    changed, then up their (new) reschedule links and down again, so the set holds
    whole chains, old and new: a link never crosses it. Old chains of these uids have
    their root in it too (the links that moved all start inside it), so the chains
    model deletes and rebuilds exactly these. Empty in a full build. -#}
{{ config(materialized='table', indexes=[{'columns': ['booking_uid'], 'unique': true}]) }}

with recursive

-- each step probes int_booking_uids by index, one uid at a time (a lateral subquery
-- with `offset 0` is never flattened into a join): a batch's chains are a few
-- thousand uids, and a hash join would scan every uid at each step of the recursion

up as (

    -- the bookings of the changed Cal.com uids (a seated one's seats, too)
    select uids.booking_uid, uids.parent_uid
    from {{ ref('int_booking_uids') }} as uids
    where uids.calcom_uid in (select booking_uid from {{ ref('int_changed_booking_uids') }})

    union

    select parent.booking_uid, parent.parent_uid
    from up
    cross join lateral (
        select uids.booking_uid, uids.parent_uid
        from {{ ref('int_booking_uids') }} as uids
        where uids.booking_uid = up.parent_uid
        offset 0
    ) as parent

),

down as (

    select booking_uid from up

    union

    select child.booking_uid
    from down
    cross join lateral (
        select uids.booking_uid
        from {{ ref('int_booking_uids') }} as uids
        where uids.parent_uid = down.booking_uid
        offset 0
    ) as child

)

select booking_uid from down
union
-- a uid that no longer exists (a phantom nobody names any more) closes its old chain
select booking_uid from {{ ref('int_changed_booking_uids') }}
