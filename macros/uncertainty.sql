{#- Is a change real? (docs/metrics.md, "Is a change real?") The 95% intervals the marts
    publish beside every week-over-week change, so that a BI tool reads the same answer
    as the page. z is the 97.5th percentile of the standard normal distribution. -#}

{% macro z95() %}1.959964{% endmacro %}

{#- One bound of the Wilson score interval of x successes out of n (null when n = 0):
    (p + z²/2n ± z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n). -#}
{% macro wilson_bound(x, n, side) -%}
    case when ({{ n }}) > 0 then (
        cast({{ x }} as double precision) / ({{ n }})
        + {{ z95() }} ^ 2 / (2.0 * ({{ n }}))
        {{ '-' if side == 'low' else '+' }} {{ z95() }} * sqrt(
            cast({{ x }} as double precision) / ({{ n }})
            * (1 - cast({{ x }} as double precision) / ({{ n }})) / ({{ n }})
            + {{ z95() }} ^ 2 / (4.0 * ({{ n }}) * ({{ n }})))
    ) / (1 + {{ z95() }} ^ 2 / ({{ n }})) end
{%- endmacro %}

{#- The Wilson bounds of a rate this week and the prior week, for `rate_change`:
    `x` and `n` name count columns, and `prev_<x>`, `prev_<n>` must exist too. -#}
{% macro rate_bounds(rate, x, n) -%}
    {{ wilson_bound(x, n, 'low') }} as {{ rate }}_l1,
        {{ wilson_bound(x, n, 'high') }} as {{ rate }}_u1,
        {{ wilson_bound('prev_' ~ x, 'prev_' ~ n, 'low') }} as {{ rate }}_l2,
        {{ wilson_bound('prev_' ~ x, 'prev_' ~ n, 'high') }} as {{ rate }}_u2
{%- endmacro %}

{#- A rate's change columns: the prior week's rate, the change, and its 95%
    interval by Newcombe's hybrid score method (Newcombe 1998, method 10) from the two
    Wilson intervals: d − sqrt((p1−l1)² + (u2−p2)²) to d + sqrt((u1−p1)² + (p2−l2)²);
    `is_<rate>_change_clear` when the interval excludes 0 (false, bounds null, when
    either week has nothing to divide by). Reads the columns of `rate_bounds`. -#}
{% macro rate_change(rate, x, n) -%}
    cast(prev_{{ rate }} as numeric) as prev_{{ rate }},
        cast(trim_scale({{ rate }} - prev_{{ rate }}) as numeric) as delta_{{ rate }},
        -- (rounded to 10 decimals: a bound is an estimate, and readers compare them)
        cast(trim_scale(round(cast(case when {{ n }} > 0 and prev_{{ n }} > 0 then
            cast({{ rate }} - prev_{{ rate }} as double precision)
            - sqrt(({{ rate }} - {{ rate }}_l1) ^ 2 + ({{ rate }}_u2 - prev_{{ rate }}) ^ 2)
        end as numeric), 10)) as numeric) as delta_{{ rate }}_low,
        cast(trim_scale(round(cast(case when {{ n }} > 0 and prev_{{ n }} > 0 then
            cast({{ rate }} - prev_{{ rate }} as double precision)
            + sqrt(({{ rate }}_u1 - {{ rate }}) ^ 2 + (prev_{{ rate }} - {{ rate }}_l2) ^ 2)
        end as numeric), 10)) as numeric) as delta_{{ rate }}_high,
        cast(coalesce({{ n }} > 0 and prev_{{ n }} > 0 and (
            cast({{ rate }} - prev_{{ rate }} as double precision)
                - sqrt(({{ rate }} - {{ rate }}_l1) ^ 2 + ({{ rate }}_u2 - prev_{{ rate }}) ^ 2) > 0
            or cast({{ rate }} - prev_{{ rate }} as double precision)
                + sqrt(({{ rate }}_u1 - {{ rate }}) ^ 2 + (prev_{{ rate }} - {{ rate }}_l2) ^ 2) < 0
        ), false) as boolean) as is_{{ rate }}_change_clear
{%- endmacro %}

{#- The ranks of the distribution-free 95% interval of a median of n values (the
    order statistics j and k of the binomial(n, ½) normal approximation):
    j = floor(n/2 − z·√n/2), k = ceil(1 + n/2 + z·√n/2), clamped to 1…n. -#}
{% macro median_rank(n, side) -%}
    {%- if side == 'low' -%}
    greatest(1, cast(floor(({{ n }}) / 2.0 - {{ z95() }} * sqrt({{ n }}) / 2.0) as integer))
    {%- else -%}
    least({{ n }}, cast(ceil(1 + ({{ n }}) / 2.0 + {{ z95() }} * sqrt({{ n }}) / 2.0) as integer))
    {%- endif -%}
{%- endmacro %}

{#- The counts behind the four rates, whose prior-week values the weekly marts carry. -#}
{% macro rate_counts(with_leads=true) -%}
    {{ return((['booked_leads', 'eligible_leads'] if with_leads else [])
              + ['rescheduled_bookings', 'bookings_made', 'cancelled_bookings', 'no_shows',
                 'resolved_meetings']) }}
{%- endmacro %}
