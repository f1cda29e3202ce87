{#- Incremental refresh (docs/decisions/incremental.md). Every refresh is a
    numbered batch. Staging tables stamp the rows they parse with the batch number; a
    batch is done when `int_refresh_log`, built after every mart, records it. "Changed"
    is every staged row of a batch not yet done, so a build that fails halfway leaves
    its rows changed for the next one. -#}

{% macro refresh_log_relation() -%}
    {{ return(adapter.get_relation(database=target.database,
                                   schema=var('intermediate_schema'),
                                   identifier='int_refresh_log')) }}
{%- endmacro %}

{#- The last completed batch and its as_of (0 and none when there is none, or in a
    --full-refresh, which starts the numbering again). -#}
{% macro refresh_state() -%}
    {%- set state = {'last_batch': 0, 'prev_as_of': none} -%}
    {%- if execute and not flags.FULL_REFRESH -%}
        {%- set log = refresh_log_relation() -%}
        {%- if log is not none -%}
            {%- set row = run_query(
                "select coalesce(max(batch_no), 0),"
                ~ " cast((array_agg(as_of order by batch_no desc))[1] as text)"
                ~ " from " ~ log).rows[0] -%}
            {%- do state.update({'last_batch': row[0], 'prev_as_of': row[1]}) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(state) }}
{%- endmacro %}

{#- The number stamped on rows staged by this build. -#}
{% macro this_batch() -%}
    {{ refresh_state()['last_batch'] + 1 }}
{%- endmacro %}

{#- Rows staged since the last completed batch. -#}
{% macro is_changed(column='batch_no') -%}
    {{ column }} > {{ refresh_state()['last_batch'] }}
{%- endmacro %}

{#- The clock-boundary rule: a slot's clock outcome (upcoming, awaiting_outcome,
    needs_review, assumed completed) depends on as_of only through end_at compared
    with as_of, as_of - review_after_hours and as_of - assume_completed_after_hours. So
    between the last batch's as_of and this one, only slots ending in the window
    below can change: [min(as_ofs) - the longest threshold, max(as_ofs)]. Either
    direction (an --as-of before the last one too). -#}
{% macro crossed_clock(end_at) -%}
    {%- set longest = [var('review_after_hours'), var('assume_completed_after_hours') or 0] | max -%}
    {{ between_as_ofs(end_at, "interval '1 hour' * " ~ longest) }}
{%- endmacro %}

{#- `ts` within [min(as_ofs) - below, max(as_ofs) - above], the as_ofs being this
    batch's and the last completed one's (true without a last one): the values for
    which a comparison of `ts` with as_of minus an offset between `above` and `below`
    can have changed since the last batch. The clock and grace rules are two uses. -#}
{% macro between_as_ofs(ts, below, above=none) -%}
    {%- set prev = refresh_state()['prev_as_of'] -%}
    {%- if prev is none -%}
        true
    {%- else -%}
        ({{ ts }} >= least({{ as_of() }}, cast('{{ prev }}' as timestamptz)) - {{ below }}
         and {{ ts }} <= greatest({{ as_of() }}, cast('{{ prev }}' as timestamptz))
             {%- if above is not none %} - {{ above }}{% endif %})
    {%- endif -%}
{%- endmacro %}

{#- pre_hook of a model rebuilt for a scope: in an incremental run, remove the rows the
    scope will write again (the same transaction as the insert). `= any(array(...))`,
    not `in (select ...)`: the scope is read first and the rows are found by index; a
    semi-join would be planned as a hash join that scans the whole table. -#}
{% macro delete_scope(column, scope_model, scope_column=none) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ column }} = any(array(
            select {{ scope_column or column }} from {{ ref(scope_model) }}))
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- The rows of `relation` whose `column` is a value of the scope (`scope_column` of
    `scope_relation`), read by index, value by value: a lateral subquery with `offset 0`
    is never flattened into a join, so the planner cannot hash the scope and scan the
    whole table, and it estimates from the scope table's real row count (a `= any(array
    (...))` filter would be guessed at about ten rows and can turn the rest of a larger
    query into nested loops). `where`: an extra condition on the rows. -#}
{% macro rows_of_scope(relation, column, scope_relation, scope_column, where=none) -%}
    select scoped_rows.*
    from (select distinct {{ scope_column }} as scope_value from {{ scope_relation }}) as scope
    cross join lateral (
        select * from {{ relation }} as scope_rows
        where scope_rows.{{ column }} = scope.scope_value
        {%- if where %}
          and {{ where }}
        {%- endif %}
        offset 0
    ) as scoped_rows
{%- endmacro %}

{#- pre_hook of a per-chain model: a chain the batch merged into another (its root is
    no longer a root) leaves no row behind (before the insert: its current uid now
    belongs to the chain that absorbed it). -#}
{% macro delete_vanished_chains() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where booking_id = any(array(select booking_uid from {{ ref('int_changed_chains') }}))
          and not exists (select 1 from {{ ref('int_booking_chains') }} as chains
                          where chains.booking_id = {{ this }}.booking_id)
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- The grace-period rule, the clock-boundary rule's twin for the reconciliation: a
    disagreement is a gap once detected_at <= as_of - crm_sync_grace_minutes (or when
    it has no date). Between the last batch's as_of and this one, only a disagreement
    detected in [min(as_ofs) - grace, max(as_ofs) - grace] can change sides. -#}
{% macro crossed_grace(detected_at) -%}
    {%- set grace = "interval '1 minute' * " ~ var('crm_sync_grace_minutes') -%}
    {{ between_as_ofs(detected_at, grace, grace) }}
{%- endmacro %}

{#- pre_hook of `review_queue`: in an incremental run, remove the items the batch writes
    again: the gaps of the leads it touched and those that crossed the grace period
    (crossed_grace), and the items of the chains whose outcome was decided again or
    that vanished, and of the leads it touched. -#}
{% macro delete_review_scope() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where (reason in ('crm_missing_booking', 'crm_stale_after_cancel',
                          'calcom_missing_booking', 'outcome_conflict')
               and {{ crossed_grace('since') }})
           or booking_id in (select booking_id from {{ ref('int_booking_outcomes') }}
                             where {{ is_changed() }})
           or booking_id in (select booking_uid from {{ ref('int_changed_chains') }})
           or lead_id in (select lead_id from {{ ref('int_changed_leads') }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- pre_hook of a model whose whole rebuild joins CTEs Postgres cannot size (it assumes
    200 rows for a CTE's distinct values, or a fraction of its rows for a filter): at a
    million leads `int_booking_uids` ran an anti join of ~900k uids against the
    reschedule links as a nested loop for more than ten minutes (24 s as hash joins),
    and `int_booking_outcomes` joined 75k seat no-show marks to 5k seats by a nested
    loop, 60 s of its 65 s. An incremental run keeps the planner's choice: its CTEs are
    small and read by index. -#}
{% macro hash_joins_when_rebuilt_whole() -%}
    {%- if is_incremental() -%}
        select 1
    {%- else -%}
        set local enable_nestloop = off
    {%- endif -%}
{%- endmacro %}

{#- Raw rows not staged yet, for the `where` of an incremental staging model, found by
    index from what the last staging recorded (docs/decisions/incremental.md, "New raw rows by
    transaction id"):
    - each staged row carries `staged_xmin` (staged_xmin()), the oldest transaction its
      staging statement saw running. A raw row that statement did not see was inserted
      by a transaction running then or started later, so its `inserted_xid` (the raw
      column's default) is at least that value. Identity values alone cannot say this:
      they are handed out before commit, in any order;
    - or its key is above every staged key: the rows inserted after a restore into
      another cluster, whose transaction ids may be lower than the stamps it restored;
    - and, of those candidates, the ones with no staged row (an index probe each).
    A staged table with no stamp yet (a `dbt build` straight after an upgrade; the CLI
    rebuilds everything then) falls back to an anti-join with every raw key: exact, and
    reading only the key columns. -#}
{% macro not_staged_yet(raw_alias, raw_relation, key) -%}
    {%- set last = none -%}
    {%- if execute and 'staged_xmin' in adapter.get_columns_in_relation(this) | map(attribute='name') -%}
        {%- set last = run_query(
            "select (select cast(staged_xmin as text) from " ~ this
            ~ " order by batch_no desc limit 1), (select max(" ~ key ~ ") from " ~ this ~ ")").rows[0] -%}
    {%- endif -%}
    {%- if last is not none and last[0] is not none -%}
    ({{ raw_alias }}.inserted_xid >= cast('{{ last[0] }}' as xid8)
     or {{ raw_alias }}.{{ key }} > {{ last[1] }})
    and not exists (
        select 1 from {{ this }} as staged where staged.{{ key }} = {{ raw_alias }}.{{ key }})
    {%- else -%}
    {{ raw_alias }}.{{ key }} in (
        select raw_keys.{{ key }}
        from {{ raw_relation }} as raw_keys
        where not exists (
            select 1 from {{ this }} as staged where staged.{{ key }} = raw_keys.{{ key }})
    )
    {%- endif -%}
{%- endmacro %}

{#- The stamp not_staged_yet reads: the oldest transaction the statement that stages
    the row saw running (its snapshot's xmin). Every transaction before it had ended
    when the statement read the raw table. -#}
{% macro staged_xmin() -%}
    pg_snapshot_xmin(pg_current_snapshot())
{%- endmacro %}

{#- post-hook: statistics for the table just built. A table model or a seed is new every
    run and always analyzed; an incremental one when rebuilt whole, else when stale. -#}
{% macro analyze_when_stale() -%}
    {%- set materialized = config.get('materialized') -%}
    {%- if materialized in ('table', 'seed')
        or (materialized == 'incremental' and flags.FULL_REFRESH) -%}
        analyze {{ this }}
    {%- elif materialized == 'incremental' -%}
        {{ analyze_if_stale(this, refresh_log_relation()) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- ANALYZE a table when the rows changed since its last analyze exceed a tenth of it
    (autovacuum's own rule, which a server with autovacuum off never applies), so a
    day's small batch costs no analyze. Run by a role that does not own the table it
    is a warning from Postgres, not an error. The rows this transaction changed count
    too (`pg_stat_xact_user_tables`: Postgres publishes them only at commit), so a
    large batch is analyzed before the models that read it are planned.
    `refresh_log`, for a model: the full build analyzes each table in the transaction
    that filled it, and Postgres adds that transaction's rows to "changed since the
    last analyze" when it commits (an analyze resets the count only for what was
    counted before it). So while the last analyze is the full build's (before the
    log's full-build row was written), the rows it saw (reltuples) are taken off the
    count; else the refresh after every full build would analyze every large table
    again (about 4 s at a million leads). -#}
{% macro analyze_if_stale(relation, refresh_log=none) -%}
    do $analyze$ begin
        if (select coalesce(stats.n_mod_since_analyze
                            {%- if refresh_log is not none %}
                            - case when greatest(stats.last_analyze, stats.last_autoanalyze)
                                        <= (select max(completed_at) from {{ refresh_log }}
                                            where was_full_refresh)
                                   then greatest(class.reltuples, 0) else 0 end
                            {%- endif %}
                            + coalesce(batch.n_tup_ins + batch.n_tup_upd + batch.n_tup_del, 0)
                            > 0.1 * greatest(class.reltuples, 0) + 1000, true)
            from pg_class as class
            left join pg_stat_user_tables as stats on stats.relid = class.oid
            left join pg_stat_xact_user_tables as batch on batch.relid = class.oid
            where class.oid = to_regclass('{{ relation }}')) then
            execute 'analyze {{ relation }}';
        end if;
    end $analyze$
{%- endmacro %}

{#- on-run-start: the raw tables the staging models read by key (the receiver and the
    loaders only insert). -#}
{% macro analyze_sources_when_stale() -%}
    {%- if execute -%}
        {%- for node in graph.sources.values() | sort(attribute='unique_id') -%}
            {%- set relation = adapter.get_relation(node.database, node.schema, node.identifier) -%}
            {%- if relation is not none and relation.type == 'table' %}
    {{ analyze_if_stale(relation) }};
            {%- endif -%}
        {%- endfor -%}
    {%- endif %}
    select 1
{%- endmacro %}

{#- post_hook: a partial index on `column` of the rows where `where` holds, for a mart
    that lists the rare rows of a large table (the feed problems among every event ever
    received): an index of a few rows instead of a scan of the whole table on every
    refresh. dbt's `indexes` config has no predicate. Created when the table has no
    partial index yet (a new table; a full rebuild makes a new one), so a model can have
    one. Unnamed: Postgres names it, and a full rebuild's backup table keeps its own
    until dbt drops it. -#}
{% macro partial_index(column, where) -%}
    do $partial_index$ begin
        if not exists (select 1 from pg_index
                       where indrelid = to_regclass('{{ this }}') and indpred is not null) then
            create index on {{ this }} ({{ column }}) where {{ where }};
        end if;
    end $partial_index$
{%- endmacro %}

{#- Weeks a batch touched, for the weekly counts kept incrementally
    (`int_weekly_booking_counts`, `int_weekly_lead_counts`). A count per week can change
    only where a row it counts was rewritten, removed or added; so the weeks to count
    again are the old weeks of the rows a batch replaces (kept by `int_replaced_*_weeks`
    before the rows change, until their batch is logged) and the new weeks of the rows
    it wrote. `week_key` makes a null week comparable (such rows have a count too). -#}
{% macro week_key(week) -%}
    coalesce({{ week }}, date 'infinity')
{%- endmacro %}

{#- The old values (`columns`: (name, type) pairs, the week among them) of the rows a
    batch is about to replace in the mart `relation_name` (read before it changes: it
    depends on the model calling this), found by `column` in each (scope relation,
    scope column) of `scopes`, stamped with this batch. Appended to until the batch is
    logged: a build that fails after rewriting the mart keeps them for the next one,
    whose scope includes the failed batch's rows again. -#}
{% macro replaced_weeks(relation_name, columns, column, scopes) -%}
    {%- set relation = adapter.get_relation(database=target.database,
                                            schema=var('reporting_schema'),
                                            identifier=relation_name) -%}
    {%- if not is_incremental() or relation is none %}
    select {% for name, type in columns %}cast(null as {{ type }}) as {{ name }}, {% endfor -%}
        cast(null as integer) as batch_no where false
    {%- else %}
    select distinct {% for name, type in columns %}cast(replaced.{{ name }} as {{ type }}) as {{ name }}, {% endfor -%}
        {{ this_batch() }} as batch_no
    from (
        {%- for scope_relation, scope_column in scopes %}
        select {% for name, type in columns %}{{ name }}{{ ', ' if not loop.last }}{% endfor %}
        from ({{ rows_of_scope(relation, column, scope_relation, scope_column) }}) as rows_{{ loop.index }}
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    ) as replaced
    {%- endif %}
{%- endmacro %}

{#- pre_hook of a `replaced_weeks` model: forget the weeks of batches already logged. -#}
{% macro forget_logged_batches() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where not ({{ is_changed() }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- `week` is one of the touched weeks (`touched`: a query of one column, the weeks). -#}
{% macro in_touched_weeks(week, touched) -%}
    {{ week_key(week) }} in (select {{ week_key('touched_week') }}
                             from ({{ touched }}) as touched (touched_week))
{%- endmacro %}

{#- pre_hook of a weekly count kept by weeks: delete the rows of the touched weeks,
    counted again by the insert. -#}
{% macro delete_weeks(week, touched) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_touched_weeks(week, touched) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- The booked weeks whose counts a batch can have changed: the old weeks of the fact
    rows it replaced or removed, and the weeks of the fact rows it wrote (`fct_bookings`
    rewrites the chains whose outcome was decided again, `is_changed`). -#}
{% macro touched_booked_weeks() -%}
    select booked_week from {{ ref('int_replaced_fact_weeks') }} where {{ is_changed() }}
    union
    select written.booked_week
    from ({{ rows_of_scope(ref('fct_bookings'), 'booking_id',
                           '(select booking_id from ' ~ ref('int_booking_outcomes')
                           ~ ' where ' ~ is_changed() ~ ') as changed_outcomes',
                           'booking_id') }}) as written
{%- endmacro %}

{#- The lead-created weeks whose counts a batch can have changed: those of the leads
    `dim_leads` rewrote (`int_changed_leads`, and any lead with an old row kept from a
    failed build) whose counted values (week, source, eligibility, booked within the
    window, hours to book) changed, old and new weeks both; a lead without an old row
    is new. A lead whose batch changed other columns only (its latest booking, that
    booking's outcome) touches no week. -#}
{% macro touched_lead_weeks() -%}
    {%- set counted = ['lead_created_week', 'lead_source', 'is_eligible',
                       'is_booked_within_window', 'hours_to_book'] -%}
    {%- set differ -%}
        ({% for name in counted %}{{ 'old_rows.' ~ name }}{{ ', ' if not loop.last }}{% endfor %})
        is distinct from
        ({% for name in counted %}{{ 'new_rows.' ~ name }}{{ ', ' if not loop.last }}{% endfor %})
    {%- endset -%}
    select case when side.is_old then old_rows.lead_created_week
                else new_rows.lead_created_week end
    from (select * from {{ ref('int_replaced_lead_weeks') }} where {{ is_changed() }}) as old_rows
    full join ({{ rows_of_scope(ref('dim_leads'), 'lead_id',
                                '(select lead_id from ' ~ ref('int_changed_leads')
                                ~ ' union select lead_id from '
                                ~ ref('int_replaced_lead_weeks') ~ ' where ' ~ is_changed()
                                ~ ') as rewritten', 'lead_id') }}) as new_rows
        on new_rows.lead_id = old_rows.lead_id
    cross join (values (true), (false)) as side (is_old)
    where (old_rows.lead_id is null or new_rows.lead_id is null or {{ differ }})
      and (case when side.is_old then old_rows.lead_id else new_rows.lead_id end) is not null
{%- endmacro %}
