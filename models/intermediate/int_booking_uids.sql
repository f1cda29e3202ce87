{#- One row per Cal.com booking uid: what its statements (webhook events and API
    snapshots) say about it, latest first. "Latest" is by statement time, ties won by
    the webhook, then the fixed trigger order, then body hash: never by arrival order.
    Uids only known as a reschedule link are added as rows without statements (their
    creation was missed). Events with a feed problem are not statements (see
    `int_webhook_events_checked`, `reporting.feed_problems`). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_scope('booking_uid', 'int_changed_booking_uids') }}",
    indexes=[{'columns': ['booking_uid'], 'unique': true}, {'columns': ['parent_uid']}],
) }}

-- depends_on: {{ ref('int_changed_booking_uids') }}

with

statements as (

    select * from {{ ref('int_booking_statements') }}
    {% if is_incremental() %}
    -- an incremental batch rebuilds only the uids it changed
    where booking_uid in (select booking_uid from {{ ref('int_changed_booking_uids') }})
    {% endif %}

),

child_statements as (

    select * from {{ ref('int_booking_statements') }}
    where child_uid is not null
    {% if is_incremental() %}
      and child_uid in (select booking_uid from {{ ref('int_changed_booking_uids') }})
    {% endif %}

),

latest_lifecycle as (

    select distinct on (booking_uid)
        booking_uid,
        lifecycle_state as uid_state,
        trigger_event as latest_lifecycle_trigger

    from statements
    where lifecycle_state is not null
    order by booking_uid, stated_at desc, source_rank desc, trigger_rank desc,
        body_sha256 desc

),

webhook_lifecycle as (

    -- what the webhooks alone say: compared with the merged state, it tells which
    -- changes only the API revealed
    select distinct on (booking_uid)
        booking_uid,
        lifecycle_state as webhook_uid_state

    from statements
    where lifecycle_state is not null
      and statement_source = 'webhook'
    order by booking_uid, stated_at desc, trigger_rank desc, body_sha256 desc

),

latest_slot as (

    -- the slot from the latest statement of the booking's state that gives one, else
    -- from any (a no-show mark or a MEETING_* body)
    select distinct on (booking_uid)
        booking_uid,
        start_at,
        end_at,
        event_id as slot_event_id

    from statements
    where start_at is not null
    order by booking_uid,
        (lifecycle_state is not null or statement_source = 'api') desc,
        stated_at desc, source_rank desc, trigger_rank desc, body_sha256 desc

),

latest_details as (

    select distinct on (booking_uid)
        booking_uid,
        booker_email,
        booker_name,
        event_type

    from statements
    where booker_email is not null
    order by booking_uid,
        (lifecycle_state is not null or statement_source = 'api') desc,
        stated_at desc, source_rank desc, trigger_rank desc, body_sha256 desc

),

latest_meta as (

    -- host, event type and location from the latest statement that states any
    select distinct on (booking_uid)
        booking_uid,
        host_user_id,
        host_name,
        host_email,
        event_type_id,
        event_type_title,
        location

    from statements
    where host_user_id is not null or host_email is not null or event_type_id is not null
        or location is not null
    order by booking_uid,
        (lifecycle_state is not null or statement_source = 'api') desc,
        stated_at desc, source_rank desc, trigger_rank desc, body_sha256 desc

),

latest_lead as (

    select distinct on (booking_uid)
        booking_uid,
        metadata_lead_id

    from statements
    where metadata_lead_id is not null
    order by booking_uid, stated_at desc, source_rank desc, trigger_rank desc,
        body_sha256 desc

),

webhook_parent as (

    -- the first creation event that names the uid it replaced
    select distinct on (booking_uid)
        booking_uid,
        parent_uid

    from statements
    where statement_source = 'webhook' and parent_uid is not null
    order by booking_uid, stated_at asc, trigger_rank asc, body_sha256 asc

),

api_parent as (

    select distinct on (booking_uid)
        booking_uid,
        parent_uid

    from statements
    where statement_source = 'api' and parent_uid is not null
    order by booking_uid, stated_at desc, body_sha256 desc

),

api_child_link as (

    -- a booking with rescheduledToUid names its successor: the successor's parent
    select distinct on (child_uid)
        child_uid as booking_uid,
        booking_uid as parent_uid

    from child_statements
    order by child_uid, stated_at desc, body_sha256 desc

),

latest_sms as (

    select distinct on (booking_uid)
        booking_uid,
        sms_reminder_number

    from statements
    where sms_reminder_number is not null
    order by booking_uid, stated_at desc, source_rank desc, trigger_rank desc,
        body_sha256 desc

),

latest_cancellation as (

    select distinct on (booking_uid)
        booking_uid,
        cancellation_reason,
        cancelled_by,
        is_reschedule_request

    from statements
    where states_cancellation
    order by booking_uid, stated_at desc, source_rank desc, trigger_rank desc,
        body_sha256 desc

),

latest_api as (

    select distinct on (booking_uid)
        booking_uid,
        is_host_absent

    from statements
    where statement_source = 'api'
    order by booking_uid, stated_at desc, body_sha256 desc

),

per_uid as (

    select
        booking_uid,
        bool_or(is_creation) as has_creation_event,
        bool_or(statement_source = 'api') as has_api_snapshot,
        -- the first creation statement: a CREATED / REQUESTED / RESCHEDULED webhook, or
        -- the API's createdAt (which also dates a booking whose first webhook was lost,
        -- e.g. a REQUESTED before the host's confirmation)
        min(case when is_creation or statement_source = 'api' then creation_at end)
            as created_event_at,
        min(case when statement_source = 'webhook' and not is_meeting_snapshot
            then stated_at end) as first_event_at,
        -- MEETING_* bodies carry the booking's creation time: a last resort only
        min(case when is_meeting_snapshot then stated_at end) as meeting_snapshot_created_at,
        max(change_at) as latest_calcom_event_at,
        count(*) as statement_count

    from statements
    group by booking_uid

),

links as (

    select
        per_uid.booking_uid,
        coalesce(webhook_parent.parent_uid, api_parent.parent_uid, api_child_link.parent_uid)
            as parent_uid

    from per_uid
    left join webhook_parent on webhook_parent.booking_uid = per_uid.booking_uid
    left join api_parent on api_parent.booking_uid = per_uid.booking_uid
    left join api_child_link on api_child_link.booking_uid = per_uid.booking_uid

),

phantom_parents as (

    select distinct links.parent_uid as booking_uid
    from links
    left join per_uid on per_uid.booking_uid = links.parent_uid
    where links.parent_uid is not null
      and per_uid.booking_uid is null
      {% if is_incremental() %}
      -- a batch (re)writes only the uids in its scope: the others stay as they are
      and links.parent_uid in (select booking_uid from {{ ref('int_changed_booking_uids') }})
      {% endif %}

    {% if is_incremental() %}
    union

    -- a uid of the scope without statements that a uid outside it still names
    select kept.parent_uid
    from {{ this }} as kept
    where kept.parent_uid in (select booking_uid from {{ ref('int_changed_booking_uids') }})
      -- not exists, never not in: an anti join Postgres can hash at any size
      and not exists (select 1 from {{ ref('int_changed_booking_uids') }} as scope
                      where scope.booking_uid = kept.booking_uid)
      and not exists (select 1 from per_uid where per_uid.booking_uid = kept.parent_uid)
    {% endif %}

),

all_uids as (

    select * from per_uid

    union all

    select
        booking_uid,
        false as has_creation_event,
        false as has_api_snapshot,
        cast(null as timestamptz) as created_event_at,
        cast(null as timestamptz) as first_event_at,
        cast(null as timestamptz) as meeting_snapshot_created_at,
        cast(null as timestamptz) as latest_calcom_event_at,
        0 as statement_count

    from phantom_parents

),

final as (

    select
        all_uids.booking_uid,
        links.parent_uid,
        all_uids.has_creation_event,
        all_uids.has_api_snapshot,
        cast(all_uids.statement_count as integer) as event_count,
        -- no statement of its state (only marks or MEETING_* bodies): it happened
        coalesce(latest_lifecycle.uid_state, 'accepted') as uid_state,
        coalesce(webhook_lifecycle.webhook_uid_state, 'accepted') as webhook_uid_state,
        all_uids.has_api_snapshot and not all_uids.has_creation_event as is_revealed_by_api,
        latest_lifecycle.latest_lifecycle_trigger,
        latest_slot.start_at,
        latest_slot.end_at,
        latest_slot.slot_event_id,
        latest_details.booker_email,
        latest_details.booker_name,
        latest_details.event_type,
        latest_meta.event_type_id,
        latest_meta.event_type_title,
        latest_meta.location,
        latest_meta.host_user_id,
        latest_meta.host_name,
        latest_meta.host_email,
        latest_lead.metadata_lead_id,
        latest_sms.sms_reminder_number,
        latest_cancellation.cancellation_reason,
        latest_cancellation.cancelled_by,
        coalesce(latest_cancellation.is_reschedule_request, false) as is_reschedule_request,
        coalesce(latest_api.is_host_absent, false) as is_host_absent,
        all_uids.created_event_at,
        coalesce(
            all_uids.created_event_at,
            all_uids.first_event_at,
            all_uids.meeting_snapshot_created_at
        ) as uid_booked_at,
        all_uids.latest_calcom_event_at

    from all_uids
    left join links on links.booking_uid = all_uids.booking_uid
    left join latest_lifecycle on latest_lifecycle.booking_uid = all_uids.booking_uid
    left join webhook_lifecycle on webhook_lifecycle.booking_uid = all_uids.booking_uid
    left join latest_slot on latest_slot.booking_uid = all_uids.booking_uid
    left join latest_details on latest_details.booking_uid = all_uids.booking_uid
    left join latest_meta on latest_meta.booking_uid = all_uids.booking_uid
    left join latest_lead on latest_lead.booking_uid = all_uids.booking_uid
    left join latest_sms on latest_sms.booking_uid = all_uids.booking_uid
    left join latest_cancellation on latest_cancellation.booking_uid = all_uids.booking_uid
    left join latest_api on latest_api.booking_uid = all_uids.booking_uid

)

select * from final
