{#- Incremental refresh, step 1 (docs/design.md, "Incremental refresh"): the Cal.com uids a batch
    changes. Every uid with a webhook event or an API snapshot staged since the last
    completed batch, the uids those name as their predecessor, root or successor, and
    the predecessor each of them (or each of their seats) had before (a link can move).
    Empty in a full build. -#}
{{ config(materialized='table', indexes=[{'columns': ['booking_uid'], 'unique': true}]) }}

{%- set old_uids = adapter.get_relation(database=target.database,
                                         schema=var('intermediate_schema'),
                                         identifier='int_booking_uids') if execute else none %}

with

named as (

    select booking_uid from {{ ref('stg_calcom__webhook_events') }} where {{ is_changed() }}
    union
    select reschedule_uid from {{ ref('stg_calcom__webhook_events') }} where {{ is_changed() }}
    union
    select from_reschedule_uid from {{ ref('stg_calcom__webhook_events') }} where {{ is_changed() }}
    union
    select root_booking_uid from {{ ref('stg_calcom__webhook_events') }} where {{ is_changed() }}
    union
    select booking_uid from {{ ref('stg_calcom__api_bookings') }} where {{ is_changed() }}
    union
    select rescheduled_from_uid from {{ ref('stg_calcom__api_bookings') }} where {{ is_changed() }}
    union
    select rescheduled_to_uid from {{ ref('stg_calcom__api_bookings') }} where {{ is_changed() }}

),

changed as (

    select booking_uid from named
    where booking_uid is not null
    {% if refresh_state()['last_batch'] == 0 %}
      and false  -- a full build: nothing is "changed", everything is built
    {% endif %}

)

select booking_uid from changed
{% if old_uids is not none and refresh_state()['last_batch'] > 0 %}
union
-- (a seat's predecessor is a seat: its booking's uid)
select {{ calcom_uid('old_uids.parent_uid') }}
from {{ old_uids }} as old_uids
inner join changed on changed.booking_uid = old_uids.calcom_uid
where old_uids.parent_uid is not null
{% endif %}
