{#- Weekly booking and meeting metrics per host (fct_bookings.host_key; names in
    reporting_private.hosts), plus an `all` row. See macros/weekly_breakdown.sql. -#}
{{ weekly_breakdown('host_key') }}
