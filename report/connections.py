"""The page's database connections, kept open per server thread.

Opening a connection costs more than most of the page's reads of the marts, and the
page opened two per view (its data; whether a refresh is running). At 1M leads the
data of one view took 35-39 ms with a new connection and 20-22 ms with a kept one
(docs/DECISIONLOG.md). Each server thread now keeps one connection per database URL
and session options, and lends it out again:

- before it is lent, one empty statement checks that it still works; a connection
  the server dropped (a restart, an idle timeout in a pooler) is replaced by a new
  one, so the view after a restart does not fail;
- after every use its transaction is rolled back, which also undoes the session
  settings the view made (`set_config(..., false)` inside a transaction), and the
  row factory is put back;
- a connection that failed is closed and forgotten.

The page uses one URL and one set of options, so the server keeps as many
connections as it has threads (8 by default; `serve --threads`) while it runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import tuple_row

_local = threading.local()


APPLICATION_NAME = "booking-report page"  # as pg_stat_activity shows these connections


def _fresh(conninfo: str, options: str, connect_timeout: int) -> psycopg.Connection:
    return psycopg.connect(conninfo, connect_timeout=connect_timeout, options=options,
                           application_name=APPLICATION_NAME)


@contextmanager
def page_connection(conninfo: str, *, options: str = "",
                    connect_timeout: int = 5) -> Iterator[psycopg.Connection]:
    """A connection of this thread's for ``conninfo``, inside a transaction that is
    rolled back afterwards. Connection errors propagate as ``psycopg.OperationalError``
    exactly as from ``psycopg.connect``."""
    kept: dict[tuple[str, str], psycopg.Connection] = _local.__dict__.setdefault("kept", {})
    key = (conninfo, options)
    conn = kept.pop(key, None)
    if conn is not None:
        try:
            conn.execute("")
        except psycopg.Error:
            conn.close()
            conn = None
    if conn is None:
        conn = _fresh(conninfo, options, connect_timeout)
    try:
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
