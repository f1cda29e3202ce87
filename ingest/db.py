"""Connections and versioned migrations for the raw schema."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

log = logging.getLogger("booking_report.ingest.db")

MIGRATIONS_TABLE = "raw.schema_migrations"
# One advisory lock key for the project's migrations (any fixed bigint).
_MIGRATION_LOCK = 7_302_118_001


def connect(dsn: str, **kwargs) -> psycopg.Connection:
    """A connection that works through a transaction-mode pooler (Supabase's, pgbouncer):
    no server-side prepared statements (the next transaction may run on another server
    connection, where the prepared name does not exist)."""
    kwargs.setdefault("prepare_threshold", None)
    return psycopg.connect(dsn, **kwargs)


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) pairs in version order, read from the package."""
    folder = resources.files("ingest") / "migrations"
    items = sorted(p for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(p.name.removesuffix(".sql"), p.read_text(encoding="utf-8")) for p in items]


def init_db(dsn: str) -> list[str]:
    """Apply every migration not yet applied; return the versions applied now.

    Idempotent: a second run applies nothing. Each migration is applied in its own
    transaction under a transaction-level advisory lock, so two processes starting at
    once do not race, through a pooler too (a session-level lock and its unlock may run
    on different server connections there).
    """
    applied_now: list[str] = []
    migrations = migration_files()
    with connect(dsn) as conn:
        while True:
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                conn.execute("create schema if not exists raw")
                conn.execute(
                    f"create table if not exists {MIGRATIONS_TABLE} ("
                    " version text primary key,"
                    " applied_at timestamptz not null default now())"
                )
                done = {r[0] for r in conn.execute(f"select version from {MIGRATIONS_TABLE}")}
                pending = [(v, sql) for v, sql in migrations if v not in done]
                if not pending:
                    return applied_now
                version, sql = pending[0]
                conn.execute(sql)
                conn.execute(f"insert into {MIGRATIONS_TABLE} (version) values (%s)", (version,))
            applied_now.append(version)
            log.info("applied migration %s", version)


def describe_schema(dsn: str, timeout: int = 3) -> str:
    """One line for `serve`'s start-up: is the raw schema there and up to date?

    Never raises and never changes anything (the receiver runs no DDL).
    """
    expected = [version for version, _ in migration_files()]
    try:
        with connect(dsn, connect_timeout=timeout) as conn:
            done = {r[0] for r in conn.execute(f"select version from {MIGRATIONS_TABLE}")}
    except psycopg.errors.UndefinedTable:
        return ("the raw schema does not exist yet: run `booking-report init-db` as the "
                "schema owner; deliveries are spooled until then")
    except psycopg.errors.InsufficientPrivilege:
        return (f"reachable, but this role cannot read {MIGRATIONS_TABLE} (see "
                "docs/roles.sql); deliveries are stored as usual")
    except psycopg.Error as exc:
        return (f"unreachable ({type(exc).__name__}): deliveries are spooled and stored "
                "automatically once it answers")
    missing = [v for v in expected if v not in done]
    if missing:
        return (f"the raw schema is behind (missing {', '.join(missing)}): run "
                "`booking-report init-db` as the schema owner")
    return f"reachable, raw schema up to date ({expected[-1]})"
