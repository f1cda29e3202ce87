{#- The valid Cal.com events (parsed, with a send time, not MEETING_*: the events
    `feed_health` counts) per hour of their send time, in UTC. `feed_health` sums these
    for the whole hours of its windows and reads the staged events only for the partial
    hours at their edges (macros/feed.sql, `valid_events_between`), instead of reading
    every event of the last 29 days on each refresh. Kept by hour: a batch counts again
    the hours of the events it staged (events are only ever added). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='sent_hour',
    indexes=[{'columns': ['sent_hour'], 'unique': true}],
) }}

with

{% if is_incremental() %}
touched_hours as (

    select distinct date_trunc('hour', sent_at, 'UTC') as sent_hour
    from {{ ref('stg_calcom__webhook_events') }}
    where {{ is_changed() }}
      and sent_at is not null

),

events as (

    -- hour by hour, along the sent_at index (`offset 0`: never one scan of every event)
    select hour_events.sent_at
    from touched_hours
    cross join lateral (
        select events.sent_at
        from {{ ref('stg_calcom__webhook_events') }} as events
        where events.sent_at >= touched_hours.sent_hour
          and events.sent_at < touched_hours.sent_hour + interval '1 hour'
          and {{ is_valid_event('events') }}
        offset 0
    ) as hour_events

)
{% else %}
events as (

    select events.sent_at
    from {{ ref('stg_calcom__webhook_events') }} as events
    where {{ is_valid_event('events') }}

)
{% endif %}

select
    cast(date_trunc('hour', sent_at, 'UTC') as timestamptz) as sent_hour,
    cast(count(*) as bigint) as valid_events

from events
group by 1
