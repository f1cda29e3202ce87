{#- Incremental refresh, for the weekly counts: what the weekly lead counts read of the
    leads a batch is about to rewrite (`int_changed_leads`): their week, source,
    eligibility, booking within the window and hours to book, read from `dim_leads`
    before it changes them (it depends on this model). Kept until the batch is logged
    (macros/incremental.sql, `replaced_weeks`). Empty in a --full-refresh. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ forget_logged_batches() }}",
) }}

-- depends_on: {{ ref('int_changed_leads') }}

{{ replaced_weeks('dim_leads', [('lead_id', 'text'), ('lead_created_week', 'date'),
                               ('lead_source', 'text'), ('is_eligible', 'boolean'),
                               ('is_booked_within_window', 'boolean'),
                               ('hours_to_book', 'numeric')], 'lead_id',
                  [(ref('int_changed_leads'), 'lead_id')]) }}
