"""The page's database connections, kept open per server thread.

Opening a connection costs more than most of the page's reads of the marts, and the
page opened two per view (its data; whether a refresh is running). At 1M leads the
data of one view took 35-39 ms with a new connection and 20-22 ms with a kept one
(docs/decisions/incremental.md). Each server thread now keeps one connection per database URL
and session options, and lends it out again:

- before it is lent, one empty statement checks that it still works; a connection
  the server dropped (a restart, an idle timeout in a pooler) is replaced by a new
  one, so the view after a restart does not fail;
- it is lent inside a transaction whose settings (a statement timeout, no JIT) are
  set for that transaction only (`set_config(..., true)`, never a startup option: a
  transaction-mode pooler such as Supabase's refuses those, and would hand a session
  setting to someone else's transaction); after every use the transaction is rolled
  back and the row factory put back;
- no statement is prepared on the server (`prepare_threshold=None`): behind a
  transaction-mode pooler the next transaction may run on another server connection,
  where the prepared name does not exist;
- a connection that failed is closed and forgotten.

The page uses one URL, so the server keeps as many connections as it has threads (8 by
default; `serve --threads`) while it runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import tuple_row

_local = threading.local()


APPLICATION_NAME = "booking-report page"  # as pg_stat_activity shows these connections


def _fresh(conninfo: str, connect_timeout: int) -> psycopg.Connection:
    return psycopg.connect(conninfo, connect_timeout=connect_timeout, prepare_threshold=None,
                           application_name=APPLICATION_NAME)


def apply_settings(conn: psycopg.Connection, settings: dict[str, str]) -> None:
    """``settings`` (name: value) for the connection's current transaction only, in one
    round trip (opens the transaction if none is open)."""
    if settings:
        conn.execute("select " + ", ".join(["set_config(%s, %s, true)"] * len(settings)),
                     [item for pair in settings.items() for item in pair])


@contextmanager
def page_connection(conninfo: str, *, settings: dict[str, str] | None = None,
                    connect_timeout: int = 5) -> Iterator[psycopg.Connection]:
    """A connection of this thread's for ``conninfo``, inside a transaction with
    ``settings`` that is rolled back afterwards. Connection errors propagate as
    ``psycopg.OperationalError`` exactly as from ``psycopg.connect``."""
    kept: dict[str, psycopg.Connection] = _local.__dict__.setdefault("kept", {})
    key = conninfo
    conn = kept.pop(key, None)
    if conn is not None:
        try:
            conn.execute("")
        except psycopg.Error:
            conn.close()
            conn = None
    if conn is None:
        conn = _fresh(conninfo, connect_timeout)
    try:
        apply_settings(conn, settings or {})
        yield conn
    except BaseException:
        conn.close()  # in doubt: never lend out a connection in an unknown state
        raise
    try:
        conn.rollback()
        conn.row_factory = tuple_row
    except psycopg.Error:
        conn.close()
        return
    kept[key] = conn


def close_all() -> None:
    """Close this thread's kept connections (for tests)."""
    kept = _local.__dict__.get("kept", {})
    while kept:
        kept.popitem()[1].close()
