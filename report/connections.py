"""The page's database connections, kept open per server thread.

Opening a connection costs more than the page's reads of the marts (about 5 ms here
against under 1 ms for most queries), and the page opened two per view. Each server
thread now keeps one connection per database URL and lends it out again:

- before it is lent, one empty statement checks that it still works; a connection
  the server dropped (a restart, an idle timeout in a pooler) is replaced by a new
  one, so the view after a restart does not fail;
- after every use its transaction is rolled back, which also undoes the session
  settings the view made (`set_config(..., false)` inside a transaction), and the
  row factory is put back;
- a connection that failed is closed and forgotten.

A thread holds at most one connection per URL: as many connections as the server has
threads (8 by default; `serve --threads`), open while the server runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import tuple_row

_local = threading.local()


def _fresh(conninfo: str, options: str, connect_timeout: int) -> psycopg.Connection:
    return psycopg.connect(conninfo, connect_timeout=connect_timeout, options=options)


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
    """Close this thread's kept connections (tests; a server shutting down)."""
    kept = _local.__dict__.get("kept", {})
    while kept:
        kept.popitem()[1].close()
