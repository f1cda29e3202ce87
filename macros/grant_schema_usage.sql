{#- dbt's `grants:` config grants select on each relation but not usage on its schema.
    Run at the end of every build (on-run-end) for the roles named in the environment;
    a schema that does not exist yet (e.g. during `source freshness`) is skipped. -#}
{% macro grant_schema_usage() %}
    {% set grants = [] %}
    {% set page_role = env_var('BOOKING_REPORT_PAGE_ROLE', '') %}
    {% set bi_role = env_var('BOOKING_REPORT_BI_ROLE', '') %}
    {% if page_role %}
        {% do grants.append((var('reporting_schema'), page_role)) %}
        {% do grants.append((var('reporting_private_schema'), page_role)) %}
    {% endif %}
    {% if bi_role %}
        {% do grants.append((var('reporting_schema'), bi_role)) %}
    {% endif %}
    {% if not grants %}{{ return('select 1') }}{% endif %}
    {% set body %}
    do $grants$ begin
    {% for schema, role in grants %}
        if exists (select 1 from pg_namespace where nspname = '{{ schema }}') then
            execute 'grant usage on schema {{ adapter.quote(schema) }} to {{ adapter.quote(role) }}';
        end if;
    {% endfor %}
    end $grants$
    {% endset %}
    {{ return(body) }}
{% endmacro %}
