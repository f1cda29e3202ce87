"""The receiver's write path: Postgres within a deadline, else the durable spool.

Cal.com does not retry, so a delivery must be durable before it is answered, and a
database that is down, hung or refusing writes must never cost a delivery or hold a
request. Every database call runs in a small thread pool and is waited for at most
``deadline`` seconds (a stopped Postgres process never answers, and no server-side
timeout can fire then). The first failure opens a circuit breaker: later deliveries go
straight to the spool without touching the database. A background thread probes the
database every ``probe_interval`` seconds with a fresh connection and, once it answers,
closes the breaker and drains the spool, with no new traffic needed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ingest import spool
from ingest.store import ParsedBody, StoreResult, body_hash, record_rejection, store_event

log = logging.getLogger("booking_report.ingest.durable")

T = TypeVar("T")

# Server-side limits on the store path (a lock or a full disk), set inside each
# transaction (never as startup options: a transaction-mode pooler such as Supabase's
# refuses those); the client-side deadline covers a server that does not answer at all.
STORE_SETTINGS = {"statement_timeout": "2000", "lock_timeout": "1000",
                  "idle_in_transaction_session_timeout": "10000"}


class DatabaseUnavailable(RuntimeError):
    """The database did not take the write in time (down, hung, refused, no schema)."""


class BodyRefused(RuntimeError):
    """The database refused this one body for a reason of its own (not because it is
    unavailable): the breaker stays closed, the body is spooled and the drain sets it
    aside with the reason."""


# errors about the statement's data, not about the database being available
_BODY_ERRORS = (psycopg.errors.DataError, psycopg.errors.IntegrityError,
                psycopg.errors.ProgramLimitExceeded)


@dataclass
class Health:
    database: str  # reachable | unreachable | schema_missing
    since: float | None
    reason: str | None
    spool_depth: int
    spool_unreadable: int
    spool_writable: bool
    spool_oldest_seconds: float | None = None


def connection_kwargs(connect_timeout: float) -> dict[str, Any]:
    # no server-side prepared statements: behind a transaction-mode pooler the next
    # transaction may run on another server connection (docs/deploying.md, "Poolers")
    return {"connect_timeout": max(1, int(round(connect_timeout))), "prepare_threshold": None}


def apply_store_settings(conn: psycopg.Connection) -> None:
    """The store path's limits for the connection's current transaction only."""
    conn.execute("select " + ", ".join(["set_config(%s, %s, true)"] * len(STORE_SETTINGS)),
                 [item for pair in STORE_SETTINGS.items() for item in pair])


class DeliveryStore:
    def __init__(self, dsn: str, spool_dir: Path | str, *, deadline: float = 2.0,
                 probe_interval: float = 1.0, threads: int = 8, start_drainer: bool = True):
        self.dsn = dsn
        self.spool_dir = Path(spool_dir)
        self.deadline = float(deadline)
        self.probe_interval = float(probe_interval)
        self.threads = threads
        self._lock = threading.Lock()
        self._state = "reachable"  # optimistic until a call fails
        self._since: float | None = None
        self._reason: str | None = None
        self._pid: int | None = None
        self._pool: ConnectionPool | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._stop = threading.Event()
        self._drainer: threading.Thread | None = None
        self._start_drainer = start_drainer
        self._ensure_started()

    # ------------------------------------------------------------ process-local parts

    def _ensure_started(self) -> None:
        """Pool, executor and drainer belong to one process (safe after a fork)."""
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            self._pool = ConnectionPool(
                self.dsn, min_size=0, max_size=self.threads, open=True,
                timeout=self.deadline, kwargs=connection_kwargs(self.deadline))
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="db-write")
            self._stop = threading.Event()
            if self._start_drainer:
                self._drainer = threading.Thread(target=self._drain_loop, name="spool-drainer",
                                                 daemon=True)
                self._drainer.start()
            self._pid = pid

    def close(self) -> None:
        self._stop.set()
        if self._executor:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._pool:
            self._pool.close(timeout=1)
        self._pid = None

    # ------------------------------------------------------------ the breaker

    @property
    def database_down(self) -> bool:
        return self._state != "reachable"

    def _trip(self, state: str, reason: str) -> None:
        with self._lock:
            changed = self._state != state
            if self._state == "reachable":
                self._since = time.time()
            self._state, self._reason = state, reason
        if changed:
            if state == "schema_missing":
                log.error("the raw schema is missing or behind (%s): run `booking-report "
                          "init-db` as the schema owner; deliveries are spooled meanwhile",
                          reason)
            else:
                log.error("database unavailable (%s): deliveries are spooled to %s until it "
                          "answers again", reason, self.spool_dir)

    def _recover(self) -> None:
        with self._lock:
            was, since = self._state, self._since
            self._state, self._since, self._reason = "reachable", None, None
        if was != "reachable":
            down_for = time.time() - since if since else 0
            log.warning("database reachable again after %.0f s", down_for)

    def run(self, fn: Callable[[psycopg.Connection], T]) -> T:
        """Run ``fn(conn)`` in a transaction, committed, within the deadline.

        Raises DatabaseUnavailable at once while the breaker is open, and opens it on
        any failure (a permission or constraint error from the caller's own statement
        included: the caller decides what a failure means).
        """
        if self.database_down:
            raise DatabaseUnavailable(self._reason or "database unavailable")
        self._ensure_started()
        assert self._executor is not None and self._pool is not None
        pool = self._pool

        def call() -> T:
            with pool.connection() as conn:
                apply_store_settings(conn)
                return fn(conn)

        future = self._executor.submit(call)
        try:
            return future.result(timeout=self.deadline)
        except (*_BODY_ERRORS, UnicodeError) as exc:
            detail = getattr(getattr(exc, "diag", None), "message_primary", None) or str(exc)
            raise BodyRefused(f"{type(exc).__name__}: {detail[:300]}") from None
        except FutureTimeout:
            self._trip("unreachable", f"no answer within {self.deadline:g} s")
            raise DatabaseUnavailable("no answer in time") from None
        except psycopg.errors.UndefinedTable as exc:
            self._trip("schema_missing", exc.diag.message_primary or "undefined table")
            raise DatabaseUnavailable("schema missing") from None
        except (psycopg.Error, PoolTimeout) as exc:
            self._trip("unreachable", type(exc).__name__)
            raise DatabaseUnavailable(type(exc).__name__) from None

    # ------------------------------------------------------------ deliveries

    def store(self, body: bytes, parsed: ParsedBody, *, webhook_version: str | None,
              secret_index: int | None) -> StoreResult | None:
        """Store and commit; None when the body went to the spool instead. Raises
        spool.SpoolFull when neither the database nor the spool can take it."""
        try:
            return self.run(lambda conn: store_event(
                conn, body, parsed, webhook_version=webhook_version,
                secret_index=secret_index, source="webhook"))
        except (DatabaseUnavailable, BodyRefused) as exc:
            spool.write(self.spool_dir, body, webhook_version=webhook_version,
                        secret_index=secret_index)
            log.warning("delivery spooled sha=%s (%s)", body_hash(body)[:12],
                        "refused by the database" if isinstance(exc, BodyRefused)
                        else "database unavailable")
            return None

    def record_rejection(self, **fields: Any) -> bool:
        """Best effort: a refusal is only logged while the database is unavailable."""
        try:
            self.run(lambda conn: record_rejection(conn, **fields))
            return True
        except (DatabaseUnavailable, BodyRefused):
            return False

    # ------------------------------------------------------------ probe and drain

    def probe(self) -> str:
        """One fresh connection (never a pooled one that may hang): the database's state."""
        try:
            with psycopg.connect(self.dsn, **connection_kwargs(self.deadline)) as conn:
                # the receiver's role may read only these columns
                conn.execute("select event_id from raw.calcom_webhook_events where false")
            return "reachable"
        except psycopg.errors.UndefinedTable:
            return "schema_missing"
        except psycopg.Error:
            return "unreachable"

    def _drain_loop(self) -> None:
        while not self._stop.wait(self.probe_interval):
            try:
                self.tick()
            except Exception:  # never let the drainer die
                log.exception("spool drainer: unexpected error")

    def tick(self) -> None:
        """Probe when down or when bodies wait in the spool; drain once reachable."""
        waiting = spool.pending(self.spool_dir)
        if not self.database_down and not waiting:
            return
        state = self.probe()
        if state != "reachable":
            self._trip(state, self._reason or state)
            return
        self._recover()
        if waiting:
            result = spool.drain(self.spool_dir, self.dsn,
                                 connect_kwargs=connection_kwargs(self.deadline),
                                 settings=apply_store_settings)
            if result.drained or result.unreadable:
                log.warning("spool drained: %d stored, %d left, %d unreadable moved aside",
                            result.drained, result.left, result.unreadable)

    def health(self) -> Health:
        return Health(self._state, self._since, self._reason,
                      len(spool.pending(self.spool_dir)),
                      len(spool.unreadable(self.spool_dir)), spool.writable(self.spool_dir),
                      spool.oldest_age(self.spool_dir))
