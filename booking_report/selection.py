"""Which models an incremental refresh must run when it runs only what changed (the
page's "Refresh now", `booking-report refresh --only-changed`): the rule and why it is
exact are in docs/decisions/incremental.md, "Only what changed".

A model must run when its result can differ from what it holds:

- it reads a raw table that has rows not staged yet, or rows staged by a batch that
  never completed (``unchanged_sources`` decides, from the staging tables' own stamps;
  a raw table it cannot decide for counts as changed);
- it reads the clock (the ``as_of`` macro, or SQL's own now(), directly or through
  other macros);
- or it is downstream of a model that runs for one of these reasons.

And a table of the batch's scope (a table or view reading the batch number through
``refresh_state``, or reading such a table) runs when a model that runs reads it:
skipped, it would still hold the last batch's scope. It runs alone: its inputs are
unchanged, so it holds "nothing changed this batch", and its other readers, which would
find nothing to redo in it (every incremental step deletes its scope and writes it
again from inputs that did not change), need not run.

Every other model keeps exactly what a run would write again: its inputs are unchanged
(everything upstream of it is skipped, or is a scope table that says nothing changed)
and nothing else it reads moved. The data
tests run where a model they test runs (dbt's eager selection); seeds (their content is
in the settings hash, whose change forces a full rebuild) and constant models do not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

CLOCK_MACROS = frozenset({"macro.booking_report.as_of"})
BATCH_MACROS = frozenset({"macro.booking_report.refresh_state"})
# SQL's own clocks: a model must read "now" through the as_of macro, but one that does
# not is treated as reading the clock rather than trusted to be constant
CLOCK_SQL = re.compile(r"\b(now|current_timestamp|current_date|current_time|localtimestamp"
                       r"|localtime|clock_timestamp|statement_timestamp"
                       r"|transaction_timestamp)\b", re.IGNORECASE)


@dataclass(frozen=True)
class StagedBy:
    """A raw table whose rows not staged yet a refresh can find: the staging model that
    stamps them with the batch, its key, and whether rows are found by transaction id
    (macros/incremental.sql, not_staged_yet) or by an anti-join (a small table)."""
    model: str
    key: str
    by_xid: bool
    raw_table: str | None = None  # the raw table to look in, when not the source itself


# (source, table) -> how its new rows are found. crm_lead_snapshots rows are written in
# the transaction of their export's crm_snapshots row (ingest/crm.py, load_snapshot),
# so an export not staged yet is the sign for both.
TRACKED_SOURCES: dict[tuple[str, str], StagedBy] = {
    ("calcom", "calcom_webhook_events"): StagedBy("stg_calcom__webhook_events", "event_id", True),
    ("calcom", "calcom_api_bookings"): StagedBy("stg_calcom__api_bookings", "snapshot_id", True),
    ("crm", "crm_snapshots"): StagedBy("stg_crm__snapshots", "snapshot_id", False),
    ("crm", "crm_lead_snapshots"): StagedBy("stg_crm__snapshots", "snapshot_id", False,
                                            raw_table="crm_snapshots"),
}


def _has_new_rows(conn: psycopg.Connection, raw: sql.Composable, staged: sql.Composable,
                  how: StagedBy, last_batch: int) -> bool:
    key = sql.Identifier(how.key)
    # a batch that staged rows and never completed: its rows are still "changed"
    if conn.execute(sql.SQL("select exists (select 1 from {} where batch_no > %s)")
                    .format(staged), (last_batch,)).fetchone()[0]:
        return True
    where = sql.SQL("true")
    params: tuple[Any, ...] = ()
    if how.by_xid:
        stamp = conn.execute(sql.SQL(
            "select cast(staged_xmin as text), (select max({key}) from {staged})"
            " from {staged} order by batch_no desc limit 1").format(key=key, staged=staged)
        ).fetchone()
        if stamp is None or stamp[0] is None:
            return conn.execute(sql.SQL("select exists (select 1 from {})").format(raw)
                                ).fetchone()[0]
        where = sql.SQL("(raw_rows.inserted_xid >= cast(%s as xid8) or raw_rows.{} > %s)"
                        ).format(key)
        params = (stamp[0], stamp[1])
    return conn.execute(sql.SQL(
        "select exists (select 1 from {raw} as raw_rows where {where} and not exists ("
        "select 1 from {staged} as staged where staged.{key} = raw_rows.{key}))").format(
            raw=raw, where=where, staged=staged, key=key), params).fetchone()[0]


def unchanged_sources(conn: psycopg.Connection, *, raw_schema: str, staging_schema: str,
                      last_batch: int) -> set[tuple[str, str]]:
    """The tracked raw tables with no row a refresh has still to stage (asked while the
    refresh holds its lock; a raw table whose staging table does not exist yet counts
    as changed)."""
    unchanged: set[tuple[str, str]] = set()
    for (source, table), how in sorted(TRACKED_SOURCES.items()):
        staged_name = (staging_schema, how.model)
        exists = conn.execute("select to_regclass(format('%%I.%%I', %s::text, %s::text))",
                              staged_name).fetchone()[0]
        if exists is None:
            continue
        raw = sql.Identifier(raw_schema, how.raw_table or table)
        if not _has_new_rows(conn, raw, sql.Identifier(*staged_name), how, last_batch):
            unchanged.add((source, table))
    return unchanged


def _macro_closure(manifest: Any, macros: list[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(macros)
    while stack:
        uid = stack.pop()
        if uid in seen:
            continue
        seen.add(uid)
        macro = manifest.macros.get(uid)
        if macro is not None:
            stack.extend(macro.depends_on.macros)
    return seen


def reads_clock(manifest: Any, node: Any) -> bool:
    """The model reads the as_of macro, or SQL's own clock in its code, its hooks or a
    macro of this project it calls."""
    macros = _macro_closure(manifest, node.depends_on.macros)
    if macros & CLOCK_MACROS:
        return True
    code = [node.raw_code, *(hook.sql for hook in (*node.config.pre_hook,
                                                    *node.config.post_hook))]
    code += [manifest.macros[uid].macro_sql for uid in sorted(macros)
             if uid.startswith("macro.booking_report.") and uid in manifest.macros]
    return any(CLOCK_SQL.search(_without_comments(text)) for text in code)


def batch_scopes(manifest: Any) -> set[str]:
    """The unique ids of the models that hold one batch's scope: tables and views (rebuilt
    whole every run) that read the batch number (`refresh_state`) or another such table.
    Incremental models are not: they keep their rows and stamp the new ones."""
    whole = {uid: node for uid, node in manifest.nodes.items()
             if str(node.resource_type) == "model"
             and node.config.materialized in ("table", "view")}
    scopes = {uid for uid, node in whole.items()
              if _macro_closure(manifest, node.depends_on.macros) & BATCH_MACROS}
    grown = True
    while grown:
        more = {uid for uid, node in whole.items()
                if uid not in scopes and set(node.depends_on.nodes) & scopes}
        scopes |= more
        grown = bool(more)
    return scopes


def _without_comments(code: str) -> str:
    code = re.sub(r"\{#.*?#\}", " ", code, flags=re.DOTALL)
    code = re.sub(r"/\*.*?\*/", " ", code, flags=re.DOTALL)
    return re.sub(r"--[^\n]*", " ", code)


def models_to_run(manifest: Any, unchanged: set[tuple[str, str]],
                  never: frozenset[str] = frozenset()) -> list[str]:
    """The names of the models to run (module docstring); ``never``: model names left
    out whatever happens (the constant models already built)."""
    models = {uid: node for uid, node in manifest.nodes.items()
              if str(node.resource_type) == "model" and node.name not in never}
    children: dict[str, set[str]] = {}
    for uid, node in models.items():
        for parent in node.depends_on.nodes:
            children.setdefault(parent, set()).add(uid)
    roots = {uid for uid, node in models.items() if reads_clock(manifest, node)}
    for uid, source in manifest.sources.items():
        if (source.source_name, source.name) not in unchanged:
            roots |= children.get(uid, set())
    scopes = batch_scopes(manifest) & set(models)

    selected: set[str] = set()
    pending = list(roots)
    while pending:
        uid = pending.pop()
        if uid not in selected and uid in models:
            selected.add(uid)
            pending.extend(children.get(uid, ()))
    # a scope table read by a model that runs runs too, or that model would read the
    # last batch's scope; alone: its inputs are unchanged, so it holds "nothing changed"
    # and its other readers, which would find nothing to redo, need not run
    while stale := {uid for uid in scopes - selected if children.get(uid, set()) & selected}:
        selected |= stale
    return sorted(models[uid].name for uid in selected)
