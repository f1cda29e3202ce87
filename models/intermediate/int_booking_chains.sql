{#- One row per booking chain: one meeting across its reschedules (one seat's, on a
    seated event type). `rescheduleUid` and Cal.com's other hints link a new uid to the
    one it replaced; the root (first uid) is the chain's `booking_id` and the newest uid
    is the current booking. The (host_key, …) index
    finds each host's best-named, latest chain in one probe (`hosts`). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_scope('booking_id', 'int_changed_chains', 'booking_uid') }}",
    indexes=[
        {'columns': ['booking_id'], 'unique': true},
        {'columns': ['current_booking_uid'], 'unique': true},
        {'columns': ['current_calcom_uid']},
        {'columns': ['booker_email']},
        {'columns': ['metadata_lead_id']},
        {'columns': ['end_at']},
        {'columns': ['host_key', '(host_name is not null) desc', 'booked_at desc nulls last',
                     'booking_id']},
    ],
) }}

-- depends_on: {{ ref('int_changed_chains') }}

with recursive

uids as not materialized (

    select * from {{ ref('int_booking_uids') }}
    {% if is_incremental() %}
    -- an incremental batch rebuilds the chains it touched, whole
    where booking_uid in (select booking_uid from {{ ref('int_changed_chains') }})
    {% endif %}

),

walk as (

    select
        booking_uid,
        booking_uid as root_uid,
        0 as depth,
        array[booking_uid] as path

    from uids
    -- a root: nothing replaced it, or what it names is not there (a seat's seat on the
    -- booking it replaced, when that attendee was not on it)
    where parent_uid is null
       or not exists (select 1 from {{ ref('int_booking_uids') }} as parent
                      where parent.booking_uid = uids.parent_uid)

    union all

    select
        child.booking_uid,
        walk.root_uid,
        walk.depth + 1 as depth,
        walk.path || child.booking_uid as path

    from uids as child
    inner join walk on child.parent_uid = walk.booking_uid
    where not child.booking_uid = any(walk.path)
      and walk.depth < 100

),

members as (

    select
        uids.*,
        -- a uid caught in a reschedule cycle never reaches a root: it stands alone
        coalesce(walk.root_uid, uids.booking_uid) as root_uid,
        coalesce(walk.depth, 0) as depth

    from uids
    left join walk on walk.booking_uid = uids.booking_uid

),

current_uid as (

    select distinct on (root_uid)
        root_uid,
        booking_uid as current_booking_uid

    from members
    order by root_uid, depth desc, uid_booked_at desc nulls last, booking_uid desc

),

chain_lead as (

    -- the metadata lead id anywhere in the chain; the newest uid's first
    select distinct on (root_uid)
        root_uid,
        metadata_lead_id

    from members
    where metadata_lead_id is not null
    order by root_uid, depth desc, uid_booked_at desc nulls last, booking_uid desc

),

chain_booker as (

    select distinct on (root_uid)
        root_uid,
        booker_email,
        booker_name,
        event_type

    from members
    where booker_email is not null
    order by root_uid, depth desc, uid_booked_at desc nulls last, booking_uid desc

),

per_chain as (

    select
        root_uid,
        count(*) - 1 as reschedule_count,
        -- a uid no creation webhook told us of, and the API did not either
        bool_or(not has_creation_event and not has_api_snapshot) as has_incomplete_history,
        -- the API revealed a booking (a uid no creation webhook told us of) or a change
        -- of state that no webhook delivered
        bool_or(is_revealed_by_api) as has_booking_revealed_by_api,
        bool_or(uid_state <> webhook_uid_state) as has_state_revealed_by_api,
        min(created_event_at) as first_created_event_at,
        min(uid_booked_at) as first_event_at,
        max(latest_calcom_event_at) as latest_calcom_event_at

    from members
    group by root_uid

),

final as (

    select
        per_chain.root_uid as booking_id,
        current_uid.current_booking_uid,
        current_booking.uid_state as booking_state,
        current_booking.calcom_uid as current_calcom_uid,
        current_booking.seat_email,
        current_booking.is_seat,
        current_booking.start_at,
        current_booking.end_at,
        current_booking.slot_event_id,
        coalesce(per_chain.first_created_event_at, per_chain.first_event_at) as booked_at,
        cast(per_chain.reschedule_count as integer) as reschedule_count,
        per_chain.has_incomplete_history,
        per_chain.has_booking_revealed_by_api,
        per_chain.has_state_revealed_by_api,
        current_booking.is_host_absent,
        chain_lead.metadata_lead_id,
        chain_booker.booker_email,
        chain_booker.booker_name,
        coalesce(current_booking.event_type, chain_booker.event_type) as event_type,
        current_booking.event_type_id,
        current_booking.event_type_title,
        current_booking.location,
        current_booking.host_user_id,
        current_booking.host_name,
        current_booking.host_email,
        {{ host_key('current_booking.host_user_id', 'current_booking.host_email') }} as host_key,
        current_booking.sms_reminder_number,
        current_booking.cancellation_reason,
        current_booking.cancelled_by,
        current_booking.is_reschedule_request,
        current_booking.has_recurring_event,
        current_booking.is_series_cancel,
        current_booking.recurring_booking_uid,
        per_chain.latest_calcom_event_at

    from per_chain
    inner join current_uid on current_uid.root_uid = per_chain.root_uid
    inner join members as current_booking
        on current_booking.booking_uid = current_uid.current_booking_uid
    left join chain_lead on chain_lead.root_uid = per_chain.root_uid
    left join chain_booker on chain_booker.root_uid = per_chain.root_uid

)

select * from final
