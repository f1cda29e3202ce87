{#- Incremental refresh, step 2: every uid of every chain a batch touches. The uids it
    changed, then up their (new) reschedule links and down again, so the set holds
    whole chains, old and new: a link never crosses it. Old chains of these uids have
    their root in it too (the links that moved all start inside it), so the chains
    model deletes and rebuilds exactly these. Empty in a full build. -#}
{{ config(materialized='table', indexes=[{'columns': ['booking_uid'], 'unique': true}]) }}

with recursive

uids as (

    select booking_uid, parent_uid from {{ ref('int_booking_uids') }}

),

up as (

    select uids.booking_uid, uids.parent_uid
    from uids
    where uids.booking_uid in (select booking_uid from {{ ref('int_changed_booking_uids') }})

    union

    select parent.booking_uid, parent.parent_uid
    from uids as parent
    inner join up on parent.booking_uid = up.parent_uid

),

down as (

    select booking_uid from up

    union

    select child.booking_uid
    from uids as child
    inner join down on child.parent_uid = down.booking_uid

)

select booking_uid from down
union
-- a uid that no longer exists (a phantom nobody names any more) closes its old chain
select booking_uid from {{ ref('int_changed_booking_uids') }}
