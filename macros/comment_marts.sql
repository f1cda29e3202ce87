{#- The marts' descriptions as Postgres comments (psql's \d+, Metabase and Superset show
    them): each mart's and each of its columns' yml description, for every mart this run
    built, in one statement at the end of the run (on-run-end). dbt's own persist_docs
    does the same model by model, three statements each (a catalog query, the table's
    comment, the columns'): about 40 ms of dbt's time per mart on every refresh
    (docs/performance.md). A column the table does not have is skipped. -#}
{% macro comment_marts() %}
    {%- if not execute -%}{{ return('select 1') }}{%- endif -%}
    {%- set described = [] -%}
    {%- for result in results -%}
        {%- set node = result.node -%}
        {%- if node.resource_type == 'model' and result.status == 'success'
              and node.fqn | length > 1 and node.fqn[1] == 'marts' -%}
            {%- do described.append((node.schema, node.alias, none, node.description)) -%}
            {%- for column in node.columns.values() if column.description -%}
                {%- do described.append((node.schema, node.alias, column.name,
                                         column.description)) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not described -%}{{ return('select 1') }}{%- endif -%}
    {%- set body -%}
    do $comments$
    declare
        item record;
    begin
        for item in
            select described.*, class.relkind
            from (values
            {%- for schema, table, column, text in described %}
                ({{ comment_literal(schema) }}, {{ comment_literal(table) }},
                 {{ comment_literal(column) if column is not none else 'cast(null as text)' }},
                 {{ comment_literal(text or '') }}){{ ',' if not loop.last }}
            {%- endfor %}
            ) as described (schema_name, table_name, column_name, description)
            inner join pg_namespace as namespace on namespace.nspname = described.schema_name
            inner join pg_class as class
                on class.relnamespace = namespace.oid and class.relname = described.table_name
            where described.column_name is null
               or exists (select 1 from pg_attribute as attribute
                          where attribute.attrelid = class.oid
                            and attribute.attname = described.column_name
                            and not attribute.attisdropped)
        loop
            if item.column_name is null then
                execute format('comment on %s %I.%I is %L',
                               case item.relkind when 'v' then 'view' else 'table' end,
                               item.schema_name, item.table_name, item.description);
            else
                execute format('comment on column %I.%I.%I is %L', item.schema_name,
                               item.table_name, item.column_name, item.description);
            end if;
        end loop;
    end $comments$
    {%- endset -%}
    {{ return(body) }}
{% endmacro %}

{#- A text as a dollar-quoted literal (descriptions hold quotes and backticks). -#}
{% macro comment_literal(text) -%}
    $booking_report_comment${{ text }}$booking_report_comment$
{%- endmacro %}
