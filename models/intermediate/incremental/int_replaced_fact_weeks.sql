{#- Incremental refresh, for the weekly counts: the booked weeks of the fact rows a batch
    is about to rewrite or remove, read from `fct_bookings` before it changes them (it
    depends on this model). The chains decided again (`int_changed_outcomes`) and every
    uid of the changed chains (`int_changed_chains`: a chain merged into another leaves
    its root among them). Kept until the batch is logged (macros/incremental.sql,
    `replaced_weeks`). Empty in a --full-refresh, which counts every week. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ forget_logged_batches() }}",
) }}

-- depends_on: {{ ref('int_changed_outcomes') }}
-- depends_on: {{ ref('int_changed_chains') }}

{{ replaced_weeks('fct_bookings', [('booked_week', 'date')], 'booking_id',
                  [(ref('int_changed_outcomes'), 'booking_id'),
                   (ref('int_changed_chains'), 'booking_uid')]) }}
