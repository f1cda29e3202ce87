{#- Bounds on the text that comes from outside and reaches a key, a join, a group or an
    index (docs/design.md, "Bad data"): a value longer than its kind's limit would fail
    a whole build ("index row size … exceeds btree maximum 2704") the first time a
    model indexes it, and raw is append-only, so every later refresh would fail too.
    A staging model keeps such a value out (null) and names the field in
    `oversized_fields`; the checked models then keep the whole row out of the chains
    and list it in reporting.feed_problems. -#}
{% macro text_limit(kind) -%}
    {{ return({'uid': 255, 'lead_id': 255, 'email': 320, 'name': 255, 'source': 255,
               'label': 255}[kind]) }}
{%- endmacro %}

{#- `expr` when it is at most the limit of `kind` long, else null. -#}
{% macro bounded(expr, kind) -%}
    case when length({{ expr }}) <= {{ text_limit(kind) }} then {{ expr }} end
{%- endmacro %}

{#- The names of the fields whose value is longer than its kind's limit, comma-separated,
    or null. `fields`: (name, expression, kind) triples. -#}
{% macro oversized_fields(fields) -%}
    nullif(concat_ws(', '
    {%- for name, expr, kind in fields %},
        case when length({{ expr }}) > {{ text_limit(kind) }}
            then '{{ name }} (' || length({{ expr }}) || ' characters, limit {{ text_limit(kind) }})' end
    {%- endfor %}
    ), '')
{%- endmacro %}

{#- A CRM row the leads may use (stg_crm__lead_snapshots): no problem, and a lead id of
    a usable length written out, so the planner can use the raw table's partial indexes
    (ingest/migrations/0009_bounded_keys.sql). -#}
{% macro usable_crm_row(alias) -%}
    ({{ alias }}.crm_row_problem is null
     and length({{ alias }}.lead_id) <= {{ text_limit('lead_id') }})
{%- endmacro %}
