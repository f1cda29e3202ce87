{#- Incremental refresh, for the weekly counts: the lead-created weeks of the leads a
    batch is about to rewrite (`int_changed_leads`), read from `dim_leads` before it
    changes them (it depends on this model). Kept until the batch is logged
    (macros/incremental.sql, `replaced_weeks`). Empty in a --full-refresh. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ forget_logged_batches() }}",
) }}

-- depends_on: {{ ref('int_changed_leads') }}

{{ replaced_weeks('dim_leads', 'lead_created_week', 'lead_id',
                  [(ref('int_changed_leads'), 'lead_id')]) }}
