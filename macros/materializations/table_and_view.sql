{#- dbt's table and view materializations for Postgres, in two round trips instead of
    about ten (docs/decisions/incremental.md, "Round 4: fewer statements per model").
    The same steps: drop what a failed run left, the hooks, the new relation under a
    temporary name, its indexes, the old one renamed away, the new one renamed in, the
    hooks after, the old one dropped, the grants, the commit; all in one transaction
    (dbt drops the old one after its commit: the rename holds the same lock until
    then). Sent as two batches of statements, not one statement each: dbt's own cost
    per statement (rendering, log events, the result turned into a table) was a large
    part of a small refresh's time. `main` ends with the create, so the run's message
    and adapter_response keep the rows it wrote ("SELECT 8"). dbt's relation cache is
    told what the batches did, as its own rename and drop would tell it. Every build of
    the suite goes through them; tests/python/test_materializations.py checks the
    indexes, the leftovers of a killed run and the messages. -#}
{% materialization table, adapter='postgres' %}
    {{ return(swap_in_new_relation('table')) }}
{% endmaterialization %}

{#- The view materialization: the same steps, with a view and no indexes. -#}
{% materialization view, adapter='postgres' %}
    {{ return(swap_in_new_relation('view')) }}
{% endmaterialization %}

{#- The table and view materializations' steps, also the incremental one's full
    refresh. -#}
{% macro swap_in_new_relation(kind) %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type=kind) -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(
        target_relation, kind if existing_relation is none else existing_relation.type) -%}
    {%- set leftovers = leftover_relations(target_relation, backup_relation) -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}

    {%- call statement('main') -%}
        {{ drop_leftovers_sql(leftovers) }}
        {{ hooks_sql(pre_hooks) }}
        {%- if kind == 'view' %}
        {{ get_create_view_as_sql(intermediate_relation, sql) }}
        {%- else %}
        {{ get_create_table_as_sql(False, intermediate_relation, sql) }}
        {%- endif %}
    {%- endcall -%}
    {%- for relation in leftovers -%}
        {%- do adapter.cache_dropped(relation) -%}
    {%- endfor -%}

    {%- call statement('swap') -%}
        {%- for index in (config.get('indexes', default=[]) if kind == 'table' else []) %}
        {{ get_create_index_sql(intermediate_relation, index) }};
        {%- endfor %}
        {%- if existing_relation is not none %}
        {{ get_rename_sql(existing_relation, backup_relation.identifier) }};
        {%- endif %}
        {{ get_rename_sql(intermediate_relation, target_relation.identifier) }};
        {{ hooks_sql(post_hooks) }}
        {%- if existing_relation is not none %}
        {{ get_drop_sql(backup_relation) }};
        {%- endif %}
    {%- endcall -%}
    {%- if existing_relation is not none -%}
        {%- do adapter.cache_renamed(existing_relation, backup_relation) -%}
        {%- do adapter.cache_dropped(backup_relation) -%}
    {%- endif -%}
    {%- do adapter.cache_renamed(intermediate_relation, target_relation) -%}

    {%- do apply_grants(target_relation, grant_config,
                        should_revoke=should_revoke(existing_relation, full_refresh_mode=True)) -%}
    {%- do persist_docs(target_relation, model) -%}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmacro %}

{#- What a run killed halfway left of this model, as dbt's relation cache found it at
    the start: its new version under the temporary name, its old one under the backup
    name. -#}
{% macro leftover_relations(target_relation, backup_relation) -%}
    {{ return([load_cached_relation(make_intermediate_relation(target_relation)),
               load_cached_relation(backup_relation)] | reject('none') | list) }}
{%- endmacro %}

{% macro drop_leftovers_sql(leftovers) -%}
    {%- for relation in leftovers %}
    {{ get_drop_sql(relation) }};
    {%- endfor -%}
{%- endmacro %}

{#- The hooks that run inside the model's transaction, rendered as run_hooks renders
    them, one statement each, for a batch. -#}
{% macro hooks_sql(hooks) -%}
    {%- for hook in hooks if hook.transaction -%}
        {%- set rendered = render(hook.get('sql')) | trim -%}
        {%- if rendered %}
        {{ rendered.rstrip(';') }};
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
