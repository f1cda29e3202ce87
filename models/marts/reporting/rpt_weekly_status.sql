{{ config(indexes=[{'columns': ['week_start', 'lead_source']}]) }}
{#- One row per (week, lead source) plus an `all` source, for every week from the
    first to the last with activity: the lead, booking and meeting metrics, each on its
    own week axis, with the prior week and the change's 95% interval. The grid is
    macros/weekly_breakdown.sql, which the host and event-type breakdowns share. -#}
{{ weekly_breakdown('lead_source', leads=true) }}
