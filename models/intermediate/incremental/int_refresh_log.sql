{#- One row per completed refresh batch (macros/incremental.sql). Built after every
    mart, so a build that fails before the end records nothing and its changes stay
    pending for the next one. `settings_hash` (models, macros, seeds and vars, from
    `booking-report refresh`) tells the next refresh whether it may be incremental. -#}
{{ config(materialized='incremental', incremental_strategy='append') }}

-- depends_on: {{ ref('fct_bookings') }}
-- depends_on: {{ ref('dim_leads') }}
-- depends_on: {{ ref('rpt_weekly_status') }}
-- depends_on: {{ ref('rpt_weekly_by_host') }}
-- depends_on: {{ ref('rpt_weekly_by_event_type') }}
-- depends_on: {{ ref('rpt_reminder_effect') }}
-- depends_on: {{ ref('reconciliation_gaps') }}
-- depends_on: {{ ref('feed_health') }}
-- depends_on: {{ ref('feed_problems') }}
-- depends_on: {{ ref('review_queue') }}
-- depends_on: {{ ref('review_counts') }}
-- depends_on: {{ ref('rpt_followups') }}
-- depends_on: {{ ref('hosts') }}

select
    cast({{ this_batch() }} as integer) as batch_no,
    cast('{{ invocation_id }}' as text) as invocation_id,
    {{ as_of() }} as as_of,
    cast('{{ var("settings_hash", "") }}' as text) as settings_hash,
    {{ 'true' if flags.FULL_REFRESH or not is_incremental() else 'false' }} as was_full_refresh,
    clock_timestamp() as completed_at
