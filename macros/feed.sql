{#- The Cal.com events the feed's health counts (`feed_health`, `int_hourly_event_counts`):
    parsed, with a send time, and not MEETING_STARTED / MEETING_ENDED, whose bodies carry
    the booking's creation time instead of a send time. `events`: the staged events'
    alias. -#}
{% macro is_valid_event(events) -%}
    {{ events }}.is_parsed
    and {{ events }}.sent_at is not null
    and {{ events }}.trigger_event not in ('MEETING_STARTED', 'MEETING_ENDED')
{%- endmacro %}

{#- The number of valid events sent in (`lo`, `hi`]: the hourly counts of the whole
    hours inside, [the hour after lo's, hi's hour), plus the staged events of the
    partial hours at the two edges, each edge its own count so that each is read along
    the sent_at index (an `or` of the two would read the whole window). When no whole
    hour fits, the two edges meet at whole_from and still count each event once. -#}
{% macro valid_events_between(lo, hi) -%}
    {%- set whole_from = "(date_trunc('hour', " ~ lo ~ ", 'UTC') + interval '1 hour')" -%}
    {%- set whole_to = "date_trunc('hour', " ~ hi ~ ", 'UTC')" -%}
    {%- set edges = ["events.sent_at < " ~ whole_from,
                     "events.sent_at >= " ~ whole_to ~ " and events.sent_at >= " ~ whole_from] -%}
    (
        (select coalesce(sum(hours.valid_events), 0)
         from {{ ref('int_hourly_event_counts') }} as hours
         where hours.sent_hour >= {{ whole_from }}
           and hours.sent_hour < {{ whole_to }})
        {%- for edge in edges %}
        + (select count(*)
           from {{ ref('stg_calcom__webhook_events') }} as events
           where {{ is_valid_event('events') }}
             and events.sent_at > {{ lo }}
             and events.sent_at <= {{ hi }}
             and {{ edge }})
        {%- endfor %}
    )
{%- endmacro %}
