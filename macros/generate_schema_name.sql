{#- Layer names in dbt_project.yml (`staging`, `intermediate`, `reporting`,
    `reporting_private`) map to the schema names in vars, used exactly (no target
    prefix), so the marts are always `reporting` / `reporting_private` unless the vars
    say otherwise. Tests isolate by database instead. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set names = {
        'staging': var('staging_schema'),
        'intermediate': var('intermediate_schema'),
        'reporting': var('reporting_schema'),
        'reporting_private': var('reporting_private_schema'),
    } -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ names.get(custom_schema_name | trim, custom_schema_name | trim) }}
    {%- endif -%}
{%- endmacro %}
