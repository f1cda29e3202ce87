{#- One row per Cal.com booking uid, or per seat of a seated booking: what its statements
    (webhook events and API snapshots) say about it, latest first. "Latest" is by
    statement time, ties won by the webhook, then the fixed trigger order, then body
    hash: never by arrival order. Uids only known as a reschedule link are added as rows
    without statements (their creation was missed). Events with a feed problem are not
    statements (see `int_webhook_events_checked`, `reporting.feed_problems`).

    Seats (docs/design.md, "Seats"): on a seated event type every attendee books a seat
    on the same Cal.com uid. Each seat is its attendee's booking, a row of its own
    (`booking_uid` = the seat's uid, macro seat_uid; `calcom_uid` = the booking's):
    a statement that lists attendees speaks for each of them (a seat's cancellation
    lists only the leaving attendee, cancelAttendeeSeat.ts), a seat's creation is the
    statement that added it (the attendee whose seat uid is `attendeeSeatId`, else the
    last one listed: createNewSeat.ts appends the new attendee), whose metadata gives the
    seat's lead; an API snapshot gives each seat its own metadata, and an attendee it no
    longer lists has left (their seat was cancelled). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook=["{{ delete_scope('calcom_uid', 'int_changed_booking_uids', 'booking_uid') }}",
              "{{ hash_joins_when_rebuilt_whole() }}"],
    indexes=[{'columns': ['booking_uid'], 'unique': true}, {'columns': ['parent_uid']},
             {'columns': ['calcom_uid']}],
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
      and not is_seated
    {% if is_incremental() %}
      and child_uid in (select booking_uid from {{ ref('int_changed_booking_uids') }})
    {% endif %}

),

seated_uids as materialized (

    -- a booking any statement of which says its event type is seated
    select booking_uid
    from statements
    group by booking_uid
    having bool_or(is_seated)

),

attendees as materialized (

    -- the attendees each statement of a seated booking lists, from both channels
    select
        'webhook:' || cast(listed.event_id as text) as statement_id,
        listed.booking_uid,
        listed.attendee_email,
        listed.attendee_name,
        listed.seat_uid,
        listed.is_last_attendee,
        cast(null as text) as seat_metadata_lead_id
    from {{ ref('stg_calcom__event_attendees') }} as listed
    where listed.booking_uid in (select booking_uid from seated_uids)
      and listed.attendee_email is not null

    union all

    select
        'api:' || cast(listed.snapshot_id as text),
        listed.booking_uid,
        listed.attendee_email,
        listed.attendee_name,
        listed.seat_uid,
        listed.is_last_attendee,
        listed.seat_metadata_lead_id
    from {{ ref('stg_calcom__api_booking_attendees') }} as listed
    where listed.booking_uid in (select booking_uid from seated_uids)
      and listed.attendee_email is not null

),

seat_emails as (

    select distinct booking_uid, attendee_email from attendees

),

seat_statements as (

    -- each statement of a seated booking, once per attendee it lists
    select
        statements.*,
        attendees.attendee_email as seat_email,
        attendees.attendee_name as seat_name,
        -- the attendee whose seat this statement created (the others were booked before)
        statements.is_creation and coalesce(attendees.seat_uid = statements.attendee_seat_id,
                                            attendees.is_last_attendee) as speaks_for_seat,
        attendees.seat_metadata_lead_id,
        false as is_departure
    from statements
    inner join attendees on attendees.statement_id = statements.statement_id

    union all

    -- an attendee an API snapshot no longer lists has left: their seat is cancelled then
    -- (a later statement that lists them again wins, as always)
    select
        statements.*,
        seat_emails.attendee_email as seat_email,
        cast(null as text) as seat_name,
        false as speaks_for_seat,
        cast(null as text) as seat_metadata_lead_id,
        true as is_departure
    from statements
    inner join seat_emails on seat_emails.booking_uid = statements.booking_uid
    where statements.statement_source = 'api'
      and statements.lifecycle_state is not null
      and not exists (
          select 1 from attendees
          where attendees.statement_id = statements.statement_id
            and attendees.attendee_email = seat_emails.attendee_email)

),

unit_statements as (

    -- the statements of each booking: a Cal.com uid, or a seat of a seated one
    select
        statements.*,
        statements.booking_uid as calcom_uid,
        cast(null as text) as seat_email,
        false as is_seat
    from statements
    where not exists (select 1 from seated_uids
                      where seated_uids.booking_uid = statements.booking_uid)

    union all

    select
        'seat:' || seat_statements.statement_id || ':' || md5(seat_statements.seat_email)
            || case when seat_statements.is_departure then ':left' else '' end as statement_id,
        seat_statements.statement_source,
        seat_statements.source_rank,
        seat_statements.event_id,
        seat_statements.snapshot_id,
        {{ seat_uid('seat_statements.booking_uid', 'seat_statements.seat_email') }}
            as booking_uid,
        seat_statements.trigger_event,
        seat_statements.trigger_rank,
        seat_statements.body_sha256,
        seat_statements.stated_at,
        -- a departure is the cancellation of that seat
        case when seat_statements.is_departure then 'cancelled'
            else seat_statements.lifecycle_state end as lifecycle_state,
        seat_statements.is_creation and seat_statements.speaks_for_seat as is_creation,
        seat_statements.creation_at,
        seat_statements.is_meeting_snapshot,
        seat_statements.change_at,
        seat_statements.start_at,
        seat_statements.end_at,
        seat_statements.seat_email as booker_email,
        seat_statements.seat_name as booker_name,
        seat_statements.event_type,
        seat_statements.event_type_id,
        seat_statements.event_type_title,
        seat_statements.location,
        seat_statements.host_user_id,
        seat_statements.host_name,
        seat_statements.host_email,
        -- a seat's lead: the metadata of the statement that created it (webhook), or the
        -- seat's own metadata (API); the booking's metadata is another seat's
        case
            when seat_statements.statement_source = 'api' then seat_statements.seat_metadata_lead_id
            when seat_statements.speaks_for_seat then seat_statements.metadata_lead_id
        end as metadata_lead_id,
        case when seat_statements.parent_uid is not null
            then {{ seat_uid('seat_statements.parent_uid', 'seat_statements.seat_email') }}
        end as parent_uid,
        case when seat_statements.from_reschedule_uid is not null
            then {{ seat_uid('seat_statements.from_reschedule_uid', 'seat_statements.seat_email') }}
        end as from_reschedule_uid,
        case when seat_statements.root_uid_hint is not null
            then {{ seat_uid('seat_statements.root_uid_hint', 'seat_statements.seat_email') }}
        end as root_uid_hint,
        cast(null as text) as child_uid,
        seat_statements.sms_reminder_number,
        seat_statements.states_cancellation or seat_statements.is_departure
            as states_cancellation,
        seat_statements.cancellation_reason,
        seat_statements.cancelled_by,
        seat_statements.is_reschedule_request,
        seat_statements.is_host_absent,
        seat_statements.is_seated,
        seat_statements.attendee_seat_id,
        seat_statements.has_recurring_event,
        seat_statements.is_series_cancel,
        seat_statements.recurring_booking_uid,
        seat_statements.booking_uid as calcom_uid,
        seat_statements.seat_email,
        true as is_seat
    from seat_statements

),

numbered as (

    -- every statement numbered within its uid, latest first: by statement time, ties
    -- won by the webhook, then the fixed trigger order, then body hash. One sort; each
    -- "latest statement that says X" below is the lowest number among those that do.
    select
        unit_statements.*,
        row_number() over (
            partition by booking_uid
            order by stated_at desc, source_rank desc, trigger_rank desc, body_sha256 desc
        ) as rn,
        -- a statement of the booking's state (its slot, booker and details speak first)
        (lifecycle_state is not null or statement_source = 'api') as is_state_statement

    from unit_statements

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
        -- a uid's lead id is sticky: the first statement that carries one (a paid or
        -- confirmed booking's BOOKING_CREATED comes without the request's metadata)
        max(rn) filter (where metadata_lead_id is not null) over uid as lead_rn,
        -- the first creation event that names the uid it replaced (the highest number:
        -- the earliest; among webhooks the order has no ties, bodies being unique)
        max(rn) filter (where statement_source = 'webhook' and parent_uid is not null)
            over uid as webhook_parent_rn,
        min(rn) filter (where statement_source = 'api' and parent_uid is not null)
            over uid as api_parent_rn,
        max(rn) filter (where from_reschedule_uid is not null) over uid as from_reschedule_rn,
        max(rn) filter (where root_uid_hint is not null) over uid as root_hint_rn,
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
        max(from_reschedule_uid) filter (where rn = from_reschedule_rn) as from_reschedule_uid,
        max(root_uid_hint) filter (where rn = root_hint_rn) as root_uid_hint,
        max(calcom_uid) as calcom_uid,
        max(seat_email) as seat_email,
        bool_or(is_seat) as is_seat,
        bool_or(has_recurring_event) as has_recurring_event,
        -- the latest word on its state is a "cancel all remaining" of its series
        bool_or(is_series_cancel) filter (where rn = lifecycle_rn) as is_series_cancel,
        max(recurring_booking_uid) filter (where rn = api_rn) as recurring_booking_uid,
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
        -- A seat: the API's createdAt is the booking's (its first seat's), so it dates
        -- a seat only when no creation webhook of the seat arrived.
        coalesce(
            min(case when is_creation or (statement_source = 'api' and not is_seat)
                then creation_at end),
            min(case when statement_source = 'api' then creation_at end)
        ) as created_event_at,
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
        -- every hint, the most direct first: a creation's rescheduleUid, the API's
        -- rescheduledFromUid, the booking row's fromReschedule, the API's
        -- rescheduledToUid on the predecessor, the chain's root (rootBookingUid)
        coalesce(per_uid.webhook_parent_uid, per_uid.api_parent_uid,
                 per_uid.from_reschedule_uid, api_child_link.parent_uid,
                 per_uid.root_uid_hint) as parent_uid

    from per_uid
    left join api_child_link on api_child_link.booking_uid = per_uid.booking_uid

),

phantom_namings as (

    -- uids named as a reschedule's predecessor that no statement tells of, with the
    -- chain's first booking (rootBookingUid) the naming uid knows: a lost middle
    -- reschedule still hangs from its chain's root
    select uids.parent_uid as booking_uid, uids.root_uid_hint
    from uids
    where uids.parent_uid is not null
      -- a seat names its seat on the booking it replaced; only a real booking that
      -- nobody told us of becomes a phantom (a seat without one stands alone)
      and not uids.is_seat
      and not exists (select 1 from uids as named where named.booking_uid = uids.parent_uid)
      {% if is_incremental() %}
      -- a batch (re)writes only the uids in its scope: the others stay as they are
      and uids.parent_uid in (select booking_uid from {{ ref('int_changed_booking_uids') }})
      {% endif %}

    {% if is_incremental() %}
    union all

    -- a uid of the scope without statements that a uid outside it still names
    select kept.parent_uid, kept.root_uid_hint
    from {{ this }} as kept
    where kept.parent_uid in (select booking_uid from {{ ref('int_changed_booking_uids') }})
      -- not exists, never not in: an anti join Postgres can hash at any size
      and not exists (select 1 from {{ ref('int_changed_booking_uids') }} as scope
                      where scope.booking_uid = kept.booking_uid)
      and not exists (select 1 from uids where uids.booking_uid = kept.parent_uid)
    {% endif %}

),

phantom_links as (

    select
        booking_uid,
        -- the root, when a naming uid knows one other than the phantom itself
        min(root_uid_hint) filter (where root_uid_hint <> booking_uid) as parent_uid
    from phantom_namings
    group by booking_uid

),

phantom_parents as (

    select * from phantom_links

    union all

    -- the root a phantom hangs from, when nothing told of it either (its creation and
    -- the middle reschedule were both lost): a phantom too, so the chain keeps its id
    select distinct phantom_links.parent_uid, cast(null as text)
    from phantom_links
    where phantom_links.parent_uid is not null
      and not exists (select 1 from uids where uids.booking_uid = phantom_links.parent_uid)
      and not exists (select 1 from phantom_links as named
                      where named.booking_uid = phantom_links.parent_uid)
      {% if is_incremental() %}
      and phantom_links.parent_uid in (select booking_uid from {{ ref('int_changed_booking_uids') }})
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
                           'api_parent_uid', 'from_reschedule_uid', 'root_uid_hint'] %}
        cast(null as text) as {{ column }},
        {%- endfor %}
        phantom_parents.booking_uid as calcom_uid,
        cast(null as text) as seat_email,
        false as is_seat,
        false as has_recurring_event,
        false as is_series_cancel,
        cast(null as text) as recurring_booking_uid,
        {%- for column in ['sms_reminder_number', 'cancellation_reason', 'cancelled_by'] %}
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
        phantom_parents.parent_uid

    from phantom_parents

),

session_slots as (

    -- a seat none of whose statements gives the slot (its one delivered word a no-show
    -- mark) meets when its booking meets: the latest slot any statement of the booking
    -- gives, a statement of its state first
    select distinct on (booking_uid)
        booking_uid as session_uid,
        start_at as session_start_at,
        end_at as session_end_at
    from statements
    where start_at is not null
      and booking_uid in (select booking_uid from seated_uids)
    order by booking_uid, (lifecycle_state is not null or statement_source = 'api') desc,
             stated_at desc, source_rank desc, trigger_rank desc, body_sha256 desc

),

final as (

    select
        booking_uid,
        parent_uid,
        -- the chain's first booking as this uid's statements name it (rootBookingUid)
        root_uid_hint,
        calcom_uid,
        seat_email,
        is_seat,
        has_recurring_event,
        coalesce(is_series_cancel, false) as is_series_cancel,
        recurring_booking_uid,
        has_creation_event,
        has_api_snapshot,
        cast(statement_count as integer) as event_count,
        -- no statement of its state (only marks or MEETING_* bodies): it happened
        coalesce(uid_state, 'accepted') as uid_state,
        coalesce(webhook_uid_state, 'accepted') as webhook_uid_state,
        has_api_snapshot and not has_creation_event as is_revealed_by_api,
        latest_lifecycle_trigger,
        coalesce(start_at, session_start_at) as start_at,
        case when start_at is null then session_end_at else end_at end as end_at,
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
    left join session_slots
        on all_uids.is_seat and session_slots.session_uid = all_uids.calcom_uid

)

select * from final
