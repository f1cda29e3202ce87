{#- dbt's incremental materialization for Postgres, for the strategies this project
    uses (append, delete+insert), in two round trips instead of about ten
    (docs/decisions/incremental.md, "Round 4: fewer statements per model"). An
    incremental run: the hooks, the new rows into a temporary table (dropped at
    commit), a check that its columns are the table's (names and types, in order),
    the rows with the same unique key deleted, the new rows inserted; then the hooks
    after and the commit. The check replaces dbt's four catalog queries
    (on_schema_change and the column list): a model whose columns changed stops with
    an error that asks for a full refresh, whatever its on_schema_change says; a
    refresh after a change to the project's code is a full refresh anyway
    (booking_report/refresh.py). A first build creates the table in place; a full
    refresh swaps a new table in, as the table materialization does. -#}
{% materialization incremental, adapter='postgres' -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set strategy = config.get('incremental_strategy') or 'append' -%}
    {%- set unique_key = config.get('unique_key') -%}
    {%- if strategy not in ('append', 'delete+insert') -%}
        {{ exceptions.raise_compiler_error(
            "incremental_strategy '" ~ strategy ~ "' is not supported by this project's"
            ~ " incremental materialization (macros/materializations/incremental.sql):"
            ~ " use 'append' or 'delete+insert'") }}
    {%- endif -%}
    {%- if strategy == 'delete+insert' and not unique_key -%}
        {{ exceptions.raise_compiler_error("delete+insert needs a unique_key") }}
    {%- endif -%}
    {%- if config.get('incremental_predicates') or config.get('predicates') -%}
        {{ exceptions.raise_compiler_error(
            "incremental_predicates are not supported by this project's incremental"
            ~ " materialization (macros/materializations/incremental.sql)") }}
    {%- endif -%}
    {%- set keys = [unique_key] if unique_key is string else (unique_key or []) -%}

    {%- if existing_relation is not none
          and (should_full_refresh() or existing_relation.is_view) -%}
        {#- a full refresh: the table materialization's swap -#}
        {{ return(swap_in_new_relation('table')) }}
    {%- endif -%}

    {%- set grant_config = config.get('grants') -%}
    {%- set leftovers = leftover_relations(target_relation, make_backup_relation(
        target_relation, 'table' if existing_relation is none else existing_relation.type)) -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {%- if existing_relation is none -%}
        {%- call statement('main') -%}
            {{ drop_leftovers_sql(leftovers) }}
            {{ hooks_sql(pre_hooks) }}
            {{ get_create_table_as_sql(False, target_relation, sql) }}
        {%- endcall -%}
        {%- set after -%}
            {%- for index in config.get('indexes', default=[]) %}
            {{ get_create_index_sql(target_relation, index) }};
            {%- endfor %}
            {{ hooks_sql(post_hooks) }}
        {%- endset -%}
    {%- else -%}
        {%- set temp_relation = make_temp_relation(target_relation) -%}
        {%- call statement('main') -%}
            {{ drop_leftovers_sql(leftovers) }}
            {{ hooks_sql(pre_hooks) }}
            create temporary table {{ temp_relation }} on commit drop as (
                {{ sql }}
            );
            {{ same_columns_or_fail(temp_relation, target_relation) }};
            {%- if strategy == 'delete+insert' %}
            delete from {{ target_relation }} as target
            using {{ temp_relation }} as batch
            where
            {%- for key in keys %}
                {% if not loop.first %}and {% endif %}target.{{ key }} = batch.{{ key }}
            {%- endfor -%};
            {%- endif %}
            insert into {{ target_relation }} select * from {{ temp_relation }}
        {%- endcall -%}
        {%- set after = hooks_sql(post_hooks) -%}
    {%- endif -%}
    {%- for relation in leftovers -%}
        {%- do adapter.cache_dropped(relation) -%}
    {%- endfor -%}
    {%- if after | trim -%}
        {%- call statement('after') -%}
            {{ after }}
        {%- endcall -%}
    {%- endif -%}

    {%- do apply_grants(target_relation, grant_config,
                        should_revoke=should_revoke(existing_relation, False)) -%}
    {%- do persist_docs(target_relation, model) -%}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{%- endmaterialization %}

{#- A statement that stops the transaction when `new` (the batch's rows) does not have
    `existing`'s columns: the same names and types, in the same order (the insert
    is by position). -#}
{% macro same_columns_or_fail(new, existing) -%}
    do $same_columns$
    declare
        new_columns text := (
            select string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', '
                              order by attnum)
            from pg_attribute
            where attrelid = to_regclass('{{ new }}') and attnum > 0 and not attisdropped);
        old_columns text := (
            select string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', '
                              order by attnum)
            from pg_attribute
            where attrelid = to_regclass('{{ existing }}') and attnum > 0
              and not attisdropped);
    begin
        if new_columns is distinct from old_columns then
            raise exception 'the columns of {{ existing | replace("'", "''") }} changed: the table has (%), the model now gives (%). Run a full refresh (booking-report refresh --full-refresh, or dbt build --full-refresh)',
                old_columns, new_columns;
        end if;
    end
    $same_columns$
{%- endmacro %}
