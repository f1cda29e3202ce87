{#- The single "now" of every model: var('as_of'), default the build's start time. -#}
{% macro as_of() -%}
    cast('{{ var("as_of") }}' as timestamptz)
{%- endmacro %}

{#- Local calendar date of a timestamptz in the report timezone. -#}
{% macro local_date(ts) -%}
    cast(({{ ts }}) at time zone '{{ var("report_timezone") }}' as date)
{%- endmacro %}

{#- Monday of the local week containing ts (a date). Independent of the session zone. -#}
{% macro week_start(ts) -%}
    cast(date_trunc('week', ({{ ts }}) at time zone '{{ var("report_timezone") }}') as date)
{%- endmacro %}

{#- The instant a local date begins, in the report timezone (DST-safe). -#}
{% macro local_midnight(date_expr) -%}
    (cast({{ date_expr }} as timestamp) at time zone '{{ var("report_timezone") }}')
{%- endmacro %}

{#- Decimal hours between two timestamptz (b - a), never rounded; trailing zeros of
    the numeric scale trimmed so 6 reads 6, not 6.0000000000000000. -#}
{% macro hours_between(a, b) -%}
    trim_scale(extract(epoch from ({{ b }}) - ({{ a }})) / 3600)
{%- endmacro %}

{#- A rate that is null, not 0, when the denominator is 0. -#}
{% macro safe_rate(numerator, denominator) -%}
    case when ({{ denominator }}) > 0
        then trim_scale(cast({{ numerator }} as numeric) / cast({{ denominator }} as numeric))
    end
{%- endmacro %}

{#- Cast text to timestamptz only when it looks like an ISO-8601 instant; else null.
    A malformed value in one payload must not break the whole build. -#}
{% macro safe_timestamptz(text_expr) -%}
    case
        when ({{ text_expr }}) ~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$'
            then cast({{ text_expr }} as timestamptz)
    end
{%- endmacro %}

{#- Order of lifecycle triggers at the same send time (DESIGN.md, Exact rules). -#}
{% macro trigger_rank(trigger_expr) -%}
    case {{ trigger_expr }}
        when 'BOOKING_REQUESTED' then 1
        when 'BOOKING_CREATED' then 2
        when 'BOOKING_RESCHEDULED' then 3
        when 'BOOKING_NO_SHOW_UPDATED' then 4
        when 'AFTER_GUESTS_CAL_VIDEO_NO_SHOW' then 4
        when 'AFTER_HOSTS_CAL_VIDEO_NO_SHOW' then 4
        when 'BOOKING_CANCELLED' then 5
        when 'BOOKING_REJECTED' then 6
        else 7
    end
{%- endmacro %}

{#- Normalize a free-text status for the seed lookup: lower case, punctuation and
    runs of spaces folded to one space. -#}
{% macro status_key(text_expr) -%}
    nullif(trim(regexp_replace(lower(coalesce({{ text_expr }}, '')), '[^a-z0-9]+', ' ', 'g')), '')
{%- endmacro %}
