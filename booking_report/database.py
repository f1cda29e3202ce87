"""Which Postgres to use: ``DATABASE_URL``, or an embedded server in a data folder."""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo

DEFAULT_DATA_DIR = ".data"


class DatabaseError(RuntimeError):
    pass


# the last database a command resolved: named in "cannot reach" messages
_last_dsn: str | None = None


def unreachable_message(exc: BaseException, dsn: str | None = None) -> str:
    """One line for a database that cannot be reached: where, why, what to check."""
    dsn = dsn or _last_dsn or os.environ.get("DATABASE_URL", "")
    try:
        params = conninfo_to_dict(dsn) if dsn else {}
    except Exception:  # a bad URL is reported elsewhere
        params = {}
    host = params.get("host") or "localhost"
    where = f"{host}:{params.get('port') or 5432}" if not str(host).startswith("/") else (
        f"the socket in {host}")
    if params.get("dbname"):
        where += f", database {params['dbname']}"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = lines[0] if lines else type(exc).__name__
    # psycopg prefixes "connection failed: connection to server at …, port … failed: "
    reason = reason.rsplit("failed: ", 1)[-1]
    return (f"cannot reach the database at {where} ({reason}). Check that Postgres is "
            "running and reachable and that DATABASE_URL (or --database) is right.")


@dataclass
class Database:
    dsn: str
    embedded: bool
    handle: Any = None  # keeps the embedded server alive while this process runs

    def params(self) -> dict[str, str]:
        return {k: str(v) for k, v in conninfo_to_dict(self.dsn).items() if v is not None}


def data_dir() -> Path:
    return Path(os.environ.get("BOOKING_REPORT_DATA_DIR", DEFAULT_DATA_DIR))


def resolve(quiet: bool = False, *, server_only: bool = False) -> Database:
    """``DATABASE_URL`` when set; otherwise start (or reuse) the embedded Postgres.

    The embedded server lives in ``$BOOKING_REPORT_PG_DIR`` (default ``.data/pg``); its
    data survives between commands. It stops when the last process using it exits.
    ``BOOKING_REPORT_DATABASE`` (or ``--database``) picks another database on the same
    server, e.g. ``booking_report_demo``; ``server_only`` ignores it.
    """
    global _last_dsn
    # libpq waits forever for an unreachable host by default
    os.environ.setdefault("PGCONNECT_TIMEOUT", "10")
    db = _resolve_server(quiet)
    name = os.environ.get("BOOKING_REPORT_DATABASE", "").strip()
    if name and not server_only:
        db.dsn = make_conninfo(db.dsn, dbname=name)
    _last_dsn = db.dsn
    return db


def _resolve_server(quiet: bool) -> Database:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        try:
            conninfo_to_dict(url)
        except Exception as exc:  # psycopg raises ProgrammingError for a bad URL
            raise DatabaseError(f"DATABASE_URL is not a valid libpq URL: {exc}") from None
        return Database(url, embedded=False)
    pg_dir = Path(os.environ.get("BOOKING_REPORT_PG_DIR", data_dir() / "pg")).resolve()
    if not quiet:
        print(f"DATABASE_URL is not set: using the embedded Postgres in {pg_dir}",
              file=sys.stderr)
    # platformdirs (used by pgserver) warns when XDG_RUNTIME_DIR is unset (root, CI)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise DatabaseError("pgserver is not installed; set DATABASE_URL instead") from exc
    pg_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pg_dir)
    return Database(server.get_uri(), embedded=True, handle=server)
