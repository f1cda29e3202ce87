{#- One row: can the week's numbers be trusted? `stale` when no valid delivery was
    sent in feed_stale_after_hours before as_of; `degraded` when too many recent
    bookings are CRM-only or have incomplete history; else `healthy`. Not healthy = the
    report's fallback mode. Refused deliveries are counted and shown but never decide
    the status: anyone can send a request with a signature header, and a real secret
    mismatch shows where it matters, as bookings the CRM has and Cal.com events lack
    (docs/metrics.md, "Feed health"). Feed problems are counted. -#}
{#- the starts of the two look-back windows (refusals and problems; the missing share) -#}
{%- set refused_since = as_of() ~ " - interval '1 day' * " ~ var('feed_refused_lookback_days') %}
{%- set missing_share_since = as_of() ~ " - interval '1 day' * "
                              ~ var('feed_missing_share_lookback_days') %}
with

events as not materialized (

    select * from {{ ref('stg_calcom__webhook_events') }}

),

rejections as not materialized (

    select * from {{ ref('stg_calcom__rejected_deliveries') }}

),

bookings as not materialized (

    select * from {{ ref('fct_bookings') }}

),

leads as not materialized (

    select * from {{ ref('dim_leads') }}

),

gaps as not materialized (

    select * from {{ ref('reconciliation_gaps') }}

),

problems as not materialized (

    select * from {{ ref('feed_problems') }}

),

sync_runs as not materialized (

    select * from {{ ref('stg_calcom__api_sync_runs') }}

),

event_stats as materialized (

    -- the latest send time read backwards along the sent_at index; the counts from the
    -- hourly counts (macros/feed.sql): a refresh reads neither all history nor every
    -- event of the last 29 days
    select
        (select max(events.sent_at) from events
         where {{ is_valid_event('events') }} and events.sent_at <= {{ as_of() }})
            as last_event_at,
        {{ valid_events_between(as_of() ~ " - interval '24 hours'", as_of()) }}
            as events_last_24h,
        {{ valid_events_between(as_of() ~ " - interval '29 days'",
                                as_of() ~ " - interval '24 hours'") }} / 28.0
            as trailing_daily_events

),

delivery_stats as materialized (

    select
        (select count(*) from rejections
            where is_calcom_like
              and received_at > {{ refused_since }}
              and received_at <= {{ as_of() }}) as refused_deliveries_7d,
        (select count(*) from rejections
            where not is_calcom_like
              and received_at > {{ refused_since }}
              and received_at <= {{ as_of() }}) as unsigned_requests_7d,
        (select count(*) from events
            where delivery_source = 'webhook'
              and received_at > {{ refused_since }}
              and received_at <= {{ as_of() }}) as accepted_deliveries_7d

),

recent_booking_stats as materialized (

    -- one read of the window's bookings for every count of them
    select
        count(*) as recent_chains,
        count(*) filter (where has_incomplete_history) as recent_incomplete_chains,
        count(*) filter (where api_recovery = 'booking') as recovered_bookings_28d,
        count(*) filter (where api_recovery = 'change') as recovered_changes_28d

    from bookings
    where booked_at > {{ missing_share_since }}
      and booked_at <= {{ as_of() }}

),

lead_stats as materialized (

    -- one read of the leads for both counts
    select
        count(*) filter (
            where is_crm_only_booking
              and first_booked_at > {{ missing_share_since }}
              and first_booked_at <= {{ as_of() }}) as recent_crm_only_bookings,
        count(*) as lead_count

    from leads

),

booking_stats as materialized (

    select
        recent_booking_stats.*,
        lead_stats.*,
        (select max(finished_at) from sync_runs
            where sync_status = 'succeeded' and finished_at <= {{ as_of() }}) as last_sync_at,
        (select count(*) from gaps) as open_gaps,
        (select count(*) from problems where problem_source is distinct from 'crm') as feed_problems,
        (select count(*) from problems where problem_source = 'crm') as crm_row_problems,
        (select count(*) from problems
            where problem_source is distinct from 'crm'
              and received_at > {{ refused_since }}
              and received_at <= {{ as_of() }}) as feed_problems_7d

    from recent_booking_stats
    cross join lead_stats

),

measured as (

    select
        event_stats.*,
        delivery_stats.*,
        booking_stats.*,
        {{ safe_rate('refused_deliveries_7d', 'refused_deliveries_7d + accepted_deliveries_7d') }}
            as refused_share_7d,
        {{ safe_rate('recent_incomplete_chains', 'recent_chains') }} as incomplete_history_share,
        {{ safe_rate('recent_crm_only_bookings + recent_incomplete_chains',
                     'recent_chains + recent_crm_only_bookings') }} as missing_booking_share,
        {{ safe_rate('open_gaps', 'lead_count') }} as gap_rate,
        {{ safe_rate('recovered_bookings_28d + recovered_changes_28d', 'recent_chains') }}
            as webhook_loss_share

    from event_stats
    cross join delivery_stats
    cross join booking_stats

),

decided as (

    select
        *,
        case
            when last_event_at is null
                or last_event_at < {{ as_of() }} - interval '1 hour' * {{ var('feed_stale_after_hours') }}
                then 'stale'
            when missing_booking_share > {{ var('feed_max_missing_share') }}
                then 'degraded'
            else 'healthy'
        end as status,
        case
            when last_event_at is null then 'no Cal.com event has been received yet'
            when last_event_at < {{ as_of() }} - interval '1 hour' * {{ var('feed_stale_after_hours') }}
                then 'no Cal.com event in the last {{ var("feed_stale_after_hours") }} hour{{ "" if var("feed_stale_after_hours") | int == 1 else "s" }}'
            when missing_booking_share > {{ var('feed_max_missing_share') }}
                then 'too many recent bookings are missing Cal.com events ('
                    || round(100 * missing_booking_share) || '% of the last '
                    || '{{ var("feed_missing_share_lookback_days") }} day{{ "" if var("feed_missing_share_lookback_days") | int == 1 else "s" }})'
        end as status_reason

    from measured

),

final as (

    select
        cast({{ as_of() }} as timestamptz) as as_of,
        cast('{{ var("report_timezone") }}' as text) as report_timezone,
        cast({{ week_start(as_of()) }} as date) as current_week_start,
        cast(status as text) as status,
        cast(status <> 'healthy' as boolean) as is_fallback,
        cast(status_reason as text) as status_reason,
        cast(last_event_at as timestamptz) as last_event_at,
        cast(events_last_24h as integer) as events_last_24h,
        cast(trailing_daily_events as numeric) as trailing_daily_events,
        cast(refused_deliveries_7d as integer) as refused_deliveries_7d,
        cast(accepted_deliveries_7d as integer) as accepted_deliveries_7d,
        cast(refused_share_7d as numeric) as refused_share_7d,
        cast(unsigned_requests_7d as integer) as unsigned_requests_7d,
        cast(feed_problems as integer) as feed_problems,
        cast(feed_problems_7d as integer) as feed_problems_7d,
        cast(crm_row_problems as integer) as crm_row_problems,
        cast(recent_chains as integer) as recent_chains,
        cast(recent_incomplete_chains as integer) as recent_incomplete_chains,
        cast(recent_crm_only_bookings as integer) as recent_crm_only_bookings,
        cast(incomplete_history_share as numeric) as incomplete_history_share,
        cast(missing_booking_share as numeric) as missing_booking_share,
        cast({{ 'true' if var('api_sync_configured') else 'false' }} as boolean)
            as api_sync_configured,
        cast(case
            when not {{ 'true' if var('api_sync_configured') else 'false' }} then 'not_configured'
            when last_sync_at is null
                or last_sync_at < {{ as_of() }} - interval '1 hour' * {{ var('api_sync_stale_hours') }}
                then 'stale'
            else 'ok'
        end as text) as api_sync_status,
        cast(last_sync_at as timestamptz) as last_sync_at,
        cast(recovered_bookings_28d as integer) as recovered_bookings_28d,
        cast(recovered_changes_28d as integer) as recovered_changes_28d,
        cast(webhook_loss_share as numeric) as webhook_loss_share,
        cast(open_gaps as integer) as open_gaps,
        cast(gap_rate as numeric) as gap_rate,
        cast(now() as timestamptz) as built_at

    from decided

)

select * from final
