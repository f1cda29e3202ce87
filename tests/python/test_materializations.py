"""The project's own table, view and incremental materializations for Postgres
(macros/materializations/): the same result as dbt's, in fewer statements. What dbt's
would do and these must too: indexes exactly once, nothing left under a temporary name,
a failed run's leftovers cleaned up, the rows' count in the run's message, and an
incremental model whose columns changed stopped before it writes anything."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import psycopg
from helpers import SCHEMAS, drop_database, fetchall
from reportkit import AS_OF, built_database

from booking_report.refresh import refresh, settings, settings_hash
from booking_report.transform import build


def relations(dsn: str) -> dict[str, str]:
    """schema.name -> relkind ('r' table, 'v' view) of every relation in the schemas
    dbt builds."""
    return {f"{schema}.{name}": kind for schema, name, kind in fetchall(
        dsn, "select ns.nspname, class.relname, class.relkind::text from pg_class as class"
             " join pg_namespace as ns on ns.oid = class.relnamespace"
             " where ns.nspname = any(%s) and class.relkind in ('r', 'v')", (list(SCHEMAS),))}


def indexes(dsn: str) -> dict[str, list[str]]:
    """schema.table -> its indexes' definitions, the names left out (dbt names them by a
    hash of the time), sorted."""
    out: dict[str, list[str]] = {}
    for schema, table, definition in fetchall(
            dsn, "select schemaname, tablename,"
                 " regexp_replace(indexdef, 'INDEX \\S+ ON', 'INDEX ON') from pg_indexes"
                 " where schemaname = any(%s)", (list(SCHEMAS),)):
        out.setdefault(f"{schema}.{table}", []).append(definition)
    return {table: sorted(found) for table, found in out.items()}


def configured_indexes(manifest: dict) -> dict[str, list[str]]:
    """schema.table -> the definitions of the indexes its config asks for on plain
    columns (an expression is written back by Postgres in its own words), as
    ``indexes`` gives them."""
    out: dict[str, list[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        table = f"{node['schema']}.{node['alias']}"
        for index in node["config"].get("indexes") or []:
            if not all(re.fullmatch(r"\w+", column) for column in index["columns"]):
                continue
            unique = "UNIQUE " if index.get("unique") else ""
            out.setdefault(table, []).append(
                f"CREATE {unique}INDEX ON {table} USING {index.get('type') or 'btree'}"
                f" ({', '.join(index['columns'])})")
    return out


def test_rebuilt_relations_keep_their_indexes_and_a_failed_runs_leftovers_go(
        templates, target_dir, manifest):
    dsn = built_database(templates, target_dir)
    try:
        before = relations(dsn)
        built_indexes = indexes(dsn)
        models = {f"{n['schema']}.{n['alias']}": n["config"]["materialized"]
                  for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed")}
        # every model and seed is there as what it is configured to be, and nothing else
        kinds = {"table": "r", "incremental": "r", "view": "v", "seed": "r"}
        assert {name: kinds[m] for name, m in models.items()} == before
        configured = configured_indexes(manifest)
        assert len(configured) > 20  # tables and incremental models
        for table, wanted in configured.items():
            assert set(wanted) <= set(built_indexes.get(table, [])), table
        for table, found in built_indexes.items():
            assert len(set(found)) == len(found), (table, found)  # none twice
        # what a run killed halfway leaves: a new table under its temporary name, an old
        # one under its backup name, a view's new version, an incremental model's old
        # table (its full refresh swaps as a table does)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("create table booking_intermediate.int_changed_outcomes__dbt_tmp"
                         " as select 1 as leftover")
            conn.execute("create table reporting_private.rpt_followups__dbt_backup"
                         " as select 1 as leftover")
            conn.execute("create view booking_staging.stg_review__manual_outcomes__dbt_tmp"
                         " as select 1 as leftover")
            conn.execute("create table reporting_private.review_queue__dbt_backup"
                         " as select 1 as leftover")  # an incremental model's
        # "Refresh now"'s incremental run, a day later: the clock's models run (those
        # four among them), the rest is left as it is
        outcome = refresh(dsn, as_of=(AS_OF + timedelta(days=1)).isoformat(),
                          target_dir=target_dir, only_changed=True)
        assert outcome.build.success, outcome.build.failures
        assert outcome.full_reason is None and outcome.only_changed[0] > 20
        # the leftovers are gone, nothing new is left behind, the indexes are the same
        assert relations(dsn) == before
        assert indexes(dsn) == built_indexes
        # the run's message keeps the rows each model wrote: a table's create, a table
        # with a contract's insert after its create, an incremental model's insert
        results = json.loads((target_dir / "target" / "run_results.json").read_text())
        messages = {r["unique_id"].split(".")[-1]: r["message"] for r in results["results"]
                    if r["unique_id"].startswith("model.")}
        changed, followups = (fetchall(dsn, f"select count(*) from {table}")[0][0] for table in
                              ("booking_intermediate.int_changed_outcomes",
                               "reporting_private.rpt_followups"))
        assert changed > 0 and messages["int_changed_outcomes"] == f"SELECT {changed}"
        assert followups > 0 and messages["rpt_followups"] == f"INSERT 0 {followups}"
        assert re.fullmatch(r"INSERT 0 \d+", messages["review_queue"])
        assert messages["pending_confirmations"] == "CREATE VIEW"
    finally:
        drop_database(dsn)


def retired_column(dsn: str) -> bool:
    """Whether fct_bookings has the column the test adds."""
    return fetchall(dsn, "select count(*) from information_schema.columns where"
                         " table_schema = 'reporting' and table_name = 'fct_bookings'"
                         " and column_name = 'retired'") == [(1,)]


def test_an_incremental_model_whose_columns_changed_stops_before_it_writes(
        templates, target_dir, capfd):
    dsn = built_database(templates, target_dir)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            # the table as an older version of the model left it: one column more
            conn.execute("alter table reporting.fct_bookings add column retired text")
            conn.execute("delete from reporting.fct_bookings where booking_id in"
                         " (select booking_id from reporting.fct_bookings limit 3)")
            kept = conn.execute("select count(*) from reporting.fct_bookings").fetchone()[0]
        later = (AS_OF + timedelta(days=2)).isoformat()
        outcome = refresh(dsn, as_of=later, target_dir=target_dir, only_changed=True)
        assert not outcome.build.success
        failure = next(f for f in outcome.build.failures if "fct_bookings" in f)
        assert "the columns of" in failure and "retired text" in failure, failure
        assert "full refresh" in failure, failure
        # dbt's error reaches the console and the file log (booking_report/dbt_log.py)
        out = capfd.readouterr().out
        assert re.search(r"^\d\d:\d\d:\d\d .*fct_bookings", out, re.M), out
        log = (target_dir / "logs" / "dbt.log").read_text()
        assert "[error] [MainThread]:   Database Error in model fct_bookings" in log \
            and "retired text" in log, log[-3000:]
        # nothing of the batch was written: the table is as it was, column included
        assert fetchall(dsn, "select count(*) from reporting.fct_bookings") == [(kept,)]
        assert "reporting.fct_bookings" in relations(dsn)
        assert retired_column(dsn)
        # a full refresh of it rebuilds it as the model now is
        variables = settings({})
        variables["settings_hash"] = settings_hash(variables)  # the refresh's parse
        summary = build(dsn, variables={**variables, "as_of": later}, full_refresh=True,
                        target_dir=target_dir, select=lambda manifest: ["fct_bookings"])
        assert summary.success and summary.count("model") == 1, summary.failures
        assert not retired_column(dsn)
        assert fetchall(dsn, "select count(*) from reporting.fct_bookings")[0][0] > kept
    finally:
        drop_database(dsn)
