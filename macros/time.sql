{#- The single "now" of every model: var('as_of') when given (`dbt build --vars`, unit
    tests); else BOOKING_REPORT_AS_OF, which `booking-report refresh` sets for its
    build (read only when the models run, never while dbt parses, so a new as_of costs
    no re-parse; and no session setting, which a transaction-mode pooler would refuse
    or lose); else the build's start time. Written into the SQL as a constant. -#}
{% macro as_of() -%}
    {%- if var('as_of', none) is not none -%}
    cast('{{ var("as_of") }}' as timestamptz)
    {%- elif execute and env_var('BOOKING_REPORT_AS_OF', '') -%}
    cast('{{ env_var("BOOKING_REPORT_AS_OF") | replace("'", "") }}' as timestamptz)
    {%- else -%}
    cast('{{ run_started_at }}' as timestamptz)
    {%- endif -%}
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

{#- Cast text to timestamptz only when it is a real ISO-8601 instant; else null. Never
    throws: the shape is matched first, then every field's value is checked (month,
    day of that month, leap years, hours, minutes, seconds, offset ≤ 15:59) before the
    cast, so `2026-02-30T10:00Z`, `T25:00`, year 0000 or `+25:00` give null instead of
    failing the whole model (one bad delivery must not freeze every later refresh).
    A zone is required, so the result never depends on the session time zone. -#}
{% macro safe_timestamptz(text_expr) -%}
    {#- One `~` match checks the shape and every field's range (month, day 01-31,
        hour, minute, second, offset ≤ 15:59; ASCII digits only); only days 29-31 are
        then checked against their month and leap years. `~` with no capture extraction
        keeps Postgres on its fast matching path. Parsed columns are read through an
        `offset 0` CTE in the models, so each field is parsed once per row. -#}
    (
        select case
            when ts_text ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?(Z|[+-](0[0-9]|1[0-5])(:?[0-5][0-9])?)$'
                and left(ts_text, 4) <> '0000'
                and (substr(ts_text, 9, 2) <= '28'
                    or cast(substr(ts_text, 9, 2) as integer) <= case
                        when substr(ts_text, 6, 2) in ('04', '06', '09', '11') then 30
                        when substr(ts_text, 6, 2) <> '02' then 31
                        when cast(left(ts_text, 4) as integer) % 4 = 0
                            and (cast(left(ts_text, 4) as integer) % 100 <> 0
                                or cast(left(ts_text, 4) as integer) % 400 = 0) then 29
                        else 28
                    end)
                then cast(ts_text as timestamptz)
        end
        from (select trim({{ text_expr }}) as ts_text) as ts_input
    )
{%- endmacro %}

{#- A value present (not null, not blank) whose parse (a column already computed with
    safe_timestamptz) came out null: it is not a real instant. -#}
{% macro is_unreadable(text_expr, parsed_column) -%}
    (nullif(trim({{ text_expr }}), '') is not null and {{ parsed_column }} is null)
{%- endmacro %}

{#- Normalize a free-text status for the seed lookup: lower case, punctuation and
    runs of spaces folded to one space. -#}
{% macro status_key(text_expr) -%}
    nullif(trim(regexp_replace(lower(coalesce({{ text_expr }}, '')), '[^a-z0-9]+', ' ', 'g')), '')
{%- endmacro %}
