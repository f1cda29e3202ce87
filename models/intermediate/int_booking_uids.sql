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

    {% if is_incremental() %}
    -- an incremental batch rebuilds only the uids it changed: their statements, by index
    {{ rows_of_scope(ref('int_booking_statements'), 'booking_uid',
                     ref('int_changed_booking_uids'), 'booking_uid') }}
    {% else %}
    select * from {{ ref('int_booking_statements') }}
    {% endif %}

),

child_statements as (

    select * from {{ ref('int_booking_statements') }}
    where child_uid is not null
    {% if is_incremental() %}
      and child_uid in (select booking_uid from {{ ref('int_changed_booking_uids') }})
    {% endif %}

),

numbered as (

    -- every statement numbered within its uid, latest first: by statement time, ties
    -- won by the webhook, then the fixed trigger order, then body hash. One sort; each
    -- "latest statement that says X" below is the lowest number among those that do.
    select
        statements.*,
        row_number() over (
            partition by booking_uid
            order by stated_at desc, source_rank desc, trigger_rank desc, body_sha256 desc
        ) as rn,
        -- a statement of the booking's state (its slot, booker and details speak first)
        (lifecycle_state is not null or statement_source = 'api') as is_state_statement

    from statements

),

picked as (

    -- the number of the statement each pick takes (the input stays in uid order, so
    -- this needs no second sort)
    select
        numbered.*,
        min(rn) filter (where lifecycle_state is not null) over uid as lifecycle_rn,
        -- what the webhooks alone say: compared with the merged state, it tells which
        -- changes only the API revealed
        min(rn) filter (where lifecycle_state is not null and statement_source = 'webhook')
            over uid as webhook_lifecycle_rn,
        -- the slot, booker and details from the latest statement of the booking's state
        -- that gives one, else from any (a no-show mark or a MEETING_* body)
        coalesce(
            min(rn) filter (where start_at is not null and is_state_statement) over uid,
            min(rn) filter (where start_at is not null) over uid
        ) as slot_rn,
        coalesce(
            min(rn) filter (where booker_email is not null and is_state_statement) over uid,
            min(rn) filter (where booker_email is not null) over uid
        ) as details_rn,
        -- host, event type and location from the latest statement that states any
        coalesce(
            min(rn) filter (where (host_user_id is not null or host_email is not null
                                   or event_type_id is not null or location is not null)
                              and is_state_statement) over uid,
            min(rn) filter (where host_user_id is not null or host_email is not null
                                  or event_type_id is not null or location is not null)
                over uid
        ) as meta_rn,
        min(rn) filter (where metadata_lead_id is not null) over uid as lead_rn,
        -- the first creation event that names the uid it replaced (the highest number:
        -- the earliest; among webhooks the order has no ties, bodies being unique)
        max(rn) filter (where statement_source = 'webhook' and parent_uid is not null)
            over uid as webhook_parent_rn,
        min(rn) filter (where statement_source = 'api' and parent_uid is not null)
            over uid as api_parent_rn,
        min(rn) filter (where sms_reminder_number is not null) over uid as sms_rn,
        min(rn) filter (where states_cancellation) over uid as cancellation_rn,
        min(rn) filter (where statement_source = 'api') over uid as api_rn

    from numbered
    window uid as (partition by booking_uid)

),

per_uid as (

    select
        booking_uid,
        max(lifecycle_state) filter (where rn = lifecycle_rn) as uid_state,
        max(trigger_event) filter (where rn = lifecycle_rn) as latest_lifecycle_trigger,
        max(lifecycle_state) filter (where rn = webhook_lifecycle_rn) as webhook_uid_state,
        max(start_at) filter (where rn = slot_rn) as start_at,
        max(end_at) filter (where rn = slot_rn) as end_at,
        max(event_id) filter (where rn = slot_rn) as slot_event_id,
        max(booker_email) filter (where rn = details_rn) as booker_email,
        max(booker_name) filter (where rn = details_rn) as booker_name,
        max(event_type) filter (where rn = details_rn) as event_type,
        max(host_user_id) filter (where rn = meta_rn) as host_user_id,
        max(host_name) filter (where rn = meta_rn) as host_name,
        max(host_email) filter (where rn = meta_rn) as host_email,
        max(event_type_id) filter (where rn = meta_rn) as event_type_id,
        max(event_type_title) filter (where rn = meta_rn) as event_type_title,
        max(location) filter (where rn = meta_rn) as location,
        max(metadata_lead_id) filter (where rn = lead_rn) as metadata_lead_id,
        max(parent_uid) filter (where rn = webhook_parent_rn) as webhook_parent_uid,
        max(parent_uid) filter (where rn = api_parent_rn) as api_parent_uid,
        max(sms_reminder_number) filter (where rn = sms_rn) as sms_reminder_number,
        max(cancellation_reason) filter (where rn = cancellation_rn) as cancellation_reason,
        max(cancelled_by) filter (where rn = cancellation_rn) as cancelled_by,
        bool_or(is_reschedule_request) filter (where rn = cancellation_rn)
            as is_reschedule_request,
        bool_or(is_host_absent) filter (where rn = api_rn) as is_host_absent,
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

    from picked
    group by booking_uid

),

api_child_link as (

    -- a booking with rescheduledToUid names its successor: the successor's parent
    select distinct on (child_uid)
        child_uid as booking_uid,
        booking_uid as parent_uid

    from child_statements
    order by child_uid, stated_at desc, body_sha256 desc

),

uids as (

    select
        per_uid.*,
        coalesce(per_uid.webhook_parent_uid, per_uid.api_parent_uid,
                 api_child_link.parent_uid) as parent_uid

    from per_uid
    left join api_child_link on api_child_link.booking_uid = per_uid.booking_uid

),

phantom_parents as (

    select distinct uids.parent_uid as booking_uid
    from uids
    where uids.parent_uid is not null
      and not exists (select 1 from uids as named where named.booking_uid = uids.parent_uid)
      {% if is_incremental() %}
      -- a batch (re)writes only the uids in its scope: the others stay as they are
      and uids.parent_uid in (select booking_uid from {{ ref('int_changed_booking_uids') }})
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
      and not exists (select 1 from uids where uids.booking_uid = kept.parent_uid)
    {% endif %}

),

all_uids as (

    select * from uids

    union all

    -- a uid known only as a reschedule link: no statement says anything about it
    select
        phantom_parents.booking_uid,
        {%- for column in ['uid_state', 'latest_lifecycle_trigger', 'webhook_uid_state'] %}
        cast(null as text) as {{ column }},
        {%- endfor %}
        cast(null as timestamptz) as start_at,
        cast(null as timestamptz) as end_at,
        cast(null as bigint) as slot_event_id,
        {%- for column in ['booker_email', 'booker_name', 'event_type', 'host_user_id',
                           'host_name', 'host_email', 'event_type_id', 'event_type_title',
                           'location', 'metadata_lead_id', 'webhook_parent_uid',
                           'api_parent_uid', 'sms_reminder_number', 'cancellation_reason',
                           'cancelled_by'] %}
        cast(null as text) as {{ column }},
        {%- endfor %}
        cast(null as boolean) as is_reschedule_request,
        cast(null as boolean) as is_host_absent,
        false as has_creation_event,
        false as has_api_snapshot,
        cast(null as timestamptz) as created_event_at,
        cast(null as timestamptz) as first_event_at,
        cast(null as timestamptz) as meeting_snapshot_created_at,
        cast(null as timestamptz) as latest_calcom_event_at,
        0 as statement_count,
        cast(null as text) as parent_uid

    from phantom_parents

),

final as (

    select
        booking_uid,
        parent_uid,
        has_creation_event,
        has_api_snapshot,
        cast(statement_count as integer) as event_count,
        -- no statement of its state (only marks or MEETING_* bodies): it happened
        coalesce(uid_state, 'accepted') as uid_state,
        coalesce(webhook_uid_state, 'accepted') as webhook_uid_state,
        has_api_snapshot and not has_creation_event as is_revealed_by_api,
        latest_lifecycle_trigger,
        start_at,
        end_at,
        slot_event_id,
        booker_email,
        booker_name,
        event_type,
        event_type_id,
        event_type_title,
        location,
        host_user_id,
        host_name,
        host_email,
        metadata_lead_id,
        sms_reminder_number,
        cancellation_reason,
        cancelled_by,
        coalesce(is_reschedule_request, false) as is_reschedule_request,
        coalesce(is_host_absent, false) as is_host_absent,
        created_event_at,
        coalesce(created_event_at, first_event_at, meeting_snapshot_created_at)
            as uid_booked_at,
        latest_calcom_event_at

    from all_uids

)

select * from final
