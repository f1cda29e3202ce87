"""Throwaway databases on the test server, and databases built once and cloned.

Every test works in a database of its own (created and dropped here). Building a
scenario's marts costs a dbt build; a database that several tests start from is built
once per test run as a *template* and each user gets a clone
(``CREATE DATABASE … TEMPLATE``: about 0.15 s for a built scenario), the way Django's
and Rails' test runners clone their test database.

Templates are shared by the processes of one test run (pytest-xdist workers): the
first process that needs one builds it under an advisory lock while the others wait,
and the run's controller drops them all at the end (``drop_templates``).
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEMPLATE_PREFIX = "brtpl_"
# templates left by a test run that crashed are dropped by the next run after this long
STALE_TEMPLATE_SECONDS = 6 * 3600


def dsn_for(name: str, admin_url: str = ADMIN_URL) -> str:
    params = conninfo_to_dict(admin_url)
    params["dbname"] = name
    return make_conninfo(**params)


def database_name(dsn: str) -> str:
    return conninfo_to_dict(dsn)["dbname"]


def create_database(prefix: str = "brtest", *, template: str | None = None,
                    admin_url: str = ADMIN_URL) -> str:
    """A new, uniquely named database (a clone of ``template`` when given); its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if template:
            conn.execute(sql.SQL("create database {} template {}").format(
                sql.Identifier(name), sql.Identifier(template)))
        else:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return dsn_for(name, admin_url)


def drop_database(dsn: str, admin_url: str = ADMIN_URL) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(
            sql.Identifier(database_name(dsn))))


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class Templates:
    """Databases built once per test run (``run_id``), cloned for each user."""

    def __init__(self, run_id: str, admin_url: str = ADMIN_URL):
        self.run_id = run_id
        self.admin_url = admin_url
        self.built: list[str] = []  # by this process

    def name(self, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        return f"{TEMPLATE_PREFIX}{self.run_id}_{digest}"

    def clone(self, key: str, build: Callable[[str], None], prefix: str = "brclone", *,
              start_from: tuple[str, Callable[[str], None]] | None = None) -> str:
        """A fresh copy of the template ``key``; ``build(dsn)`` fills a new database
        the first time the run asks for it (in any process of the run). ``start_from``
        (key, build) of another template: ``build`` then starts from a copy of that one
        instead of an empty database."""
        template = self.name(key)
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute("select pg_advisory_lock(%s)", (_lock_key(template),))
            try:
                exists = conn.execute("select 1 from pg_database where datname = %s",
                                      (template,)).fetchone()
                if not exists:
                    scratch = (self.clone(*start_from, prefix="brtplbuild") if start_from
                               else create_database("brtplbuild", admin_url=self.admin_url))
                    try:
                        build(scratch)
                        self._close_sessions(conn, database_name(scratch))
                        conn.execute(sql.SQL("alter database {} rename to {}").format(
                            sql.Identifier(database_name(scratch)), sql.Identifier(template)))
                    except BaseException:
                        drop_database(scratch, self.admin_url)
                        raise
                    self.built.append(template)
                # a process that built or read it may still hold idle sessions (a kept
                # page connection); a template must have none to be copied
                self._close_sessions(conn, template)
                return create_database(prefix, template=template, admin_url=self.admin_url)
            finally:
                conn.execute("select pg_advisory_unlock(%s)", (_lock_key(template),))

    @staticmethod
    def _close_sessions(conn: psycopg.Connection, name: str) -> None:
        conn.execute("select pg_terminate_backend(pid) from pg_stat_activity"
                     " where datname = %s and pid <> pg_backend_pid()", (name,))
        deadline = time.monotonic() + 10
        while conn.execute("select count(*) from pg_stat_activity where datname = %s",
                           (name,)).fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.05)

    def drop_all(self) -> int:
        """Drop this run's templates (the run's controller calls it once at the end)."""
        return drop_templates(self.admin_url, run_id=self.run_id)


def drop_templates(admin_url: str = ADMIN_URL, *, run_id: str | None = None,
                   older_than: float | None = None) -> int:
    """Drop the templates of ``run_id``, or those whose run started ``older_than``
    seconds ago (the run id starts with the run's start time)."""
    dropped = 0
    with psycopg.connect(admin_url, autocommit=True) as conn:
        names = [r[0] for r in conn.execute(
            "select datname from pg_database where datname like %s",
            (TEMPLATE_PREFIX.replace("_", r"\_") + "%",))]
        for name in names:
            run = name[len(TEMPLATE_PREFIX):].rsplit("_", 1)[0]
            if run_id is not None and run != run_id:
                continue
            if run_id is None:
                started = run.split("_", 1)[0]
                if not started.isdigit() or older_than is None or \
                        time.time() - int(started) < older_than:
                    continue
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(name)))
            dropped += 1
    return dropped


def new_run_id() -> str:
    """A test run's id: its start time (so leftovers can be aged) and a random part."""
    return f"{int(time.time())}_{uuid.uuid4().hex[:8]}"
