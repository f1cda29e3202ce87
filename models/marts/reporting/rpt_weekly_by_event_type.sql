{#- Weekly booking and meeting metrics per event type (its slug), plus an `all` row.
    See macros/weekly_breakdown.sql. -#}
{{ weekly_breakdown('event_type') }}
