"""What analysts and BI tools get: documented columns (in dbt and as Postgres comments),
hosts and event types in the marts, the documented example queries, a connection URL and
the dbt docs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import psycopg
import pytest
from helpers import REPO, drop_database, fetchall
from reportkit import built_database

from devtools.net import free_port

MART_SCHEMAS = ("reporting", "reporting_private")



@pytest.fixture(scope="module")
def known_db(templates, target_dir):
    dsn = built_database(templates, target_dir)
    yield dsn
    drop_database(dsn)


def test_every_mart_column_is_described_in_dbt_and_commented_in_postgres(known_db, manifest):
    models = {node["alias"]: node for node in manifest["nodes"].values()
              if node["resource_type"] == "model" and node["schema"] in MART_SCHEMAS}
    assert {"fct_bookings", "rpt_weekly_by_host", "rpt_weekly_by_event_type", "hosts",
            "feed_problems", "review_queue"} <= set(models)
    with psycopg.connect(known_db) as conn:
        columns = conn.execute(
            "select c.table_schema, c.table_name, c.column_name,"
            " col_description(format('%%I.%%I', c.table_schema, c.table_name)::regclass,"
            "                 c.ordinal_position)"
            " from information_schema.columns c"
            " where c.table_schema = any(%s) order by 1, 2, c.ordinal_position",
            (list(MART_SCHEMAS),)).fetchall()
        tables = conn.execute(
            "select n.nspname, c.relname, obj_description(c.oid, 'pg_class')"
            " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = any(%s) and c.relkind in ('r', 'v')",
            (list(MART_SCHEMAS),)).fetchall()
    undocumented = []
    for schema, table, column, comment in columns:
        node = models.get(table)
        assert node is not None, f"{schema}.{table} is built but is not a dbt mart"
        described = (node["columns"].get(column) or {}).get("description", "").strip()
        if not described:
            undocumented.append(f"{schema}.{table}.{column}: no description in dbt")
        if not (comment or "").strip():
            undocumented.append(f"{schema}.{table}.{column}: no comment in Postgres")
    for schema, table, comment in tables:
        if not (comment or "").strip():
            undocumented.append(f"{schema}.{table}: no table comment in Postgres")
    assert undocumented == [], "\n".join(undocumented)
    assert len(columns) > 150


def test_hosts_event_types_locations_and_cancellers_reach_the_marts(known_db):
    hosts = {k for (k,) in fetchall(known_db, "select distinct host_key from"
                                              " reporting.fct_bookings")}
    assert {"user:11", "user:12", "user:13"} <= hosts
    assert fetchall(known_db, "select count(*) from reporting.fct_bookings"
                              " where host_key like '%%@%%'") == [(0,)]  # no email in BI
    names = dict(fetchall(known_db, "select host_key, host_name from reporting_private.hosts"))
    assert names["user:11"] == "Hana Host"
    event_types = dict(fetchall(known_db, "select event_type, max(event_type_title) from"
                                          " reporting.fct_bookings group by 1"))
    assert event_types == {"intro-call": "Intro Call", "strategy-session": "Strategy Session",
                           "group-workshop": "Group Workshop",  # seated sessions
                           "weekly-coaching": "Weekly Coaching"}  # recurring series
    kinds = {k for (k,) in fetchall(known_db, "select distinct location_kind from"
                                              " reporting.fct_bookings")}
    assert {"video", "phone", "in_person"} <= kinds
    assert fetchall(known_db, "select distinct duration_minutes from reporting.fct_bookings"
                              " where duration_minutes is not null"
                              " order by 1") == [(30,), (45,), (60,)]
    roles = dict(fetchall(known_db, "select cancelled_by_role, count(*) from"
                                    " reporting.fct_bookings where outcome = 'cancelled'"
                                    " group by 1"))
    assert roles.get("attendee", 0) > 0 and roles.get("host", 0) > 0
    assert set(roles) <= {"host", "attendee", "other", "unknown"}
    by_host = fetchall(known_db, "select count(distinct host_key) from"
                                 " reporting.rpt_weekly_by_host")
    assert by_host == [(4,)]  # three hosts and `all`


def analyst_sql() -> list[str]:
    text = (REPO / "docs" / "analysts.md").read_text()
    return re.findall(r"```sql\n(.*?)```", text, re.S)


def test_the_documented_analyst_queries_run_and_answer(known_db):
    queries = analyst_sql()
    assert len(queries) == 4
    with psycopg.connect(known_db) as conn:
        for query in queries:
            rows = conn.execute(query).fetchall()
            assert rows, f"no answer from:\n{query}"


def test_db_url_prints_a_url_that_connects(known_db):
    env = dict(os.environ, DATABASE_URL=known_db)
    res = subprocess.run([sys.executable, "-m", "booking_report.cli", "db-url"], env=env,
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert res.returncode == 0, res.stderr
    url = res.stdout.strip()
    assert url.startswith("postgresql://")
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) > 0 from reporting.fct_bookings").fetchone()[0]


def test_db_url_keeps_the_embedded_server_up_while_it_runs(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "BOOKING_REPORT_DATABASE")}
    env["BOOKING_REPORT_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.Popen([sys.executable, "-m", "booking_report.cli", "db-url"], env=env,
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("postgresql://"), proc.stderr.read() if proc.poll() else url
        time.sleep(1)
        with psycopg.connect(url) as conn:  # still up: db-url holds it
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # a terminated db-url stops the server it started (it used to be left running)
    assert proc.returncode == 0, proc.stderr.read()
    assert not (tmp_path / "data" / "pg" / "postmaster.pid").exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=3).close()


@pytest.mark.slow
def test_docs_are_served_on_localhost_with_the_descriptions(known_db, tmp_path):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=known_db, BOOKING_REPORT_DATA_DIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "booking_report.cli", "docs", "--port",
                             str(port)], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        catalog = None
        while time.monotonic() < deadline and catalog is None:
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read())
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/catalog.json",
                                            timeout=5) as resp:
                    catalog = json.loads(resp.read())
            except OSError:
                time.sleep(0.5)
        assert catalog is not None, "dbt docs did not come up"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/manifest.json") as resp:
            manifest = json.loads(resp.read())
        fct = next(n for n in manifest["nodes"].values() if n["name"] == "fct_bookings")
        assert "stable, non-personal key" in fct["columns"]["host_key"]["description"]
        assert any(key.endswith(".fct_bookings") for key in catalog["nodes"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert (tmp_path / "dbt-docs" / "target" / "catalog.json").exists()


@pytest.mark.slow
def test_marts_are_analyzed_and_the_page_sorts_have_indexes(templates, target_dir):
    """Tables dbt builds are never analyzed by themselves (and this server runs with
    autovacuum off); the next model's and the page's queries then plan on wild
    estimates. Every table a first build creates, in every layer, has statistics, and
    the page's lists have indexes in their order (that the page's queries use them:
    test_report.py, test_the_pages_lists_are_read_in_index_order_not_sorted). Built
    here, not cloned: a clone has the statistics but not their history."""
    known_db = built_database(templates, target_dir, clone=False)
    try:
        check_analyzed_and_indexed(known_db)
    finally:
        drop_database(known_db)


def check_analyzed_and_indexed(known_db: str) -> None:
    never = fetchall(known_db, "select schemaname, relname from pg_stat_user_tables"
                               " where schemaname in ('reporting', 'reporting_private',"
                               "   'booking_staging', 'booking_intermediate')"
                               " and last_analyze is null and last_autoanalyze is null")
    assert never == []
    indexed = {(t, d.split("(")[-1].rstrip(")")) for t, d in fetchall(
        known_db, "select tablename, indexdef from pg_indexes"
                  " where schemaname in ('reporting', 'reporting_private')")}
    for table, columns in [("review_queue", "reason, since, review_item_id"),
                           ("review_queue", "start_at DESC NULLS LAST, review_item_id"),
                           ("rpt_followups", "start_at DESC NULLS LAST, booking_id"),
                           ("reconciliation_gaps", "detected_at DESC NULLS LAST, gap_id"),
                           ("rpt_weekly_status", "week_start, lead_source")]:
        assert (table, columns) in indexed, (table, columns, indexed)


def test_not_null_constraints_are_in_the_marts_ddl(known_db, manifest):
    """The contracted marts declare not_null as constraints instead of data tests: the
    tables themselves refuse a null, so a bad build fails before it replaces a mart."""
    declared = {(node["schema"], node["alias"], name)
                for node in manifest["nodes"].values()
                if node["resource_type"] == "model" and node["schema"] in MART_SCHEMAS
                for name, column in node["columns"].items()
                if any(c["type"] == "not_null" for c in column.get("constraints", []))}
    assert len(declared) >= 57
    nullable = {row for row in fetchall(
        known_db, "select table_schema, table_name, column_name"
                  " from information_schema.columns"
                  " where table_schema = any(%s) and is_nullable = 'YES'",
        (list(MART_SCHEMAS),))}
    assert declared & nullable == set()
    tests = [node for node in manifest["nodes"].values()
             if node["resource_type"] == "test"
             and (node.get("test_metadata") or {}).get("name") == "not_null"
             and node.get("attached_node") in {
                 uid for uid, model in manifest["nodes"].items()
                 if model["resource_type"] == "model"
                 and model["config"].get("contract", {}).get("enforced")}]
    assert tests == []


def test_accepted_values_are_check_constraints_in_the_marts_ddl(known_db, manifest):
    """The contracted marts declare their accepted values as check constraints, not as
    data tests that re-read the whole mart on every refresh: the table refuses a value
    outside the list at insert, so an incremental refresh checks only the rows it
    writes."""
    contracted = {uid: node for uid, node in manifest["nodes"].items()
                  if node["resource_type"] == "model"
                  and node["config"].get("contract", {}).get("enforced")}
    declared: dict[tuple[str, str], int] = {}
    for node in contracted.values():
        for column in node["columns"].values():
            for constraint in column.get("constraints", []):
                if constraint["type"] == "check":
                    key = (node["schema"], node["alias"])
                    declared[key] = declared.get(key, 0) + 1
    assert sum(declared.values()) >= 18
    in_ddl: dict[tuple[str, str], int] = {}
    for schema, table in fetchall(
            known_db, "select n.nspname, c.relname from pg_constraint k"
                      " join pg_class c on c.oid = k.conrelid"
                      " join pg_namespace n on n.oid = c.relnamespace"
                      " where k.contype = 'c' and n.nspname = any(%s)",
            (list(MART_SCHEMAS),)):
        in_ddl[(schema, table)] = in_ddl.get((schema, table), 0) + 1
    assert in_ddl == declared
    tests = [node["name"] for node in manifest["nodes"].values()
             if node["resource_type"] == "test"
             and (node.get("test_metadata") or {}).get("name") == "accepted_values"
             and node.get("attached_node") in contracted]
    assert tests == []
    # and the table itself refuses a value outside the list
    with psycopg.connect(known_db) as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("update reporting.fct_bookings set outcome = 'maybe'"
                         " where booking_id = (select min(booking_id)"
                         " from reporting.fct_bookings)")
        conn.rollback()
