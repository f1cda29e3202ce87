"""A durable local spool for deliveries that arrive while Postgres is unreachable.

Cal.com does not retry a failed delivery, so when the database cannot take an
authenticated body the receiver writes it here (fsync'd, atomically renamed, readable
by the service's user only: bodies hold names and emails) and answers 202. ``drain``
moves spooled bodies into the database later; the body-hash dedupe makes a drain that
runs twice harmless.

Nothing in the spool can jam it: a file that cannot be read, or whose body the database
refuses for a reason of its own (not because the database is down), is moved aside to
``<spool>/unreadable/`` with a ``.reason`` file beside it, listed by ``drain-spool`` and
``/healthz``, and the files after it are stored as usual.
"""

from __future__ import annotations

import base64
import errno
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from ingest.store import body_hash, parse_body, store_event

log = logging.getLogger("booking_report.ingest.spool")

UNREADABLE = "unreadable"
REASON_SUFFIX = ".reason"


class SpoolFull(OSError):
    """The spool cannot take a body (disk full, read-only, no permission)."""


def write(spool_dir: Path, body: bytes, *, webhook_version: str | None,
          secret_index: int | None, source: str = "webhook") -> Path:
    """Write one body durably; SpoolFull when the disk cannot take it (the temporary
    file is removed: nothing half-written stays behind)."""
    digest = body_hash(body)
    final = spool_dir / f"{digest}.json"
    # a name of its own per write: identical bodies arriving at once never share one
    tmp = spool_dir / f".{digest}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    record = {
        "webhook_version": webhook_version,
        "secret_index": secret_index,
        "source": source,
        "body_b64": base64.b64encode(body).decode("ascii"),
    }
    try:
        spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        dir_fd = os.open(spool_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                         errno.EPERM):
            raise SpoolFull(exc.errno, f"the spool at {spool_dir} cannot take a body: "
                                       f"{exc.strerror}") from None
        raise
    return final


@dataclass
class DrainResult:
    drained: int = 0
    left: int = 0  # still waiting (the database failed during the drain)
    unreadable: int = 0  # moved aside to <spool>/unreadable/ by this drain


def pending(spool_dir: Path) -> list[Path]:
    if not spool_dir.is_dir():
        return []
    return sorted(p for p in spool_dir.glob("*.json") if not p.name.startswith("."))


def unreadable(spool_dir: Path) -> list[Path]:
    """The files moved aside (their reasons beside them are not counted)."""
    folder = spool_dir / UNREADABLE
    return sorted(p for p in folder.glob("*") if not p.name.endswith(REASON_SUFFIX)) \
        if folder.is_dir() else []


def reason(path: Path) -> str:
    """Why a file was moved aside."""
    try:
        return path.with_name(path.name + REASON_SUFFIX).read_text(encoding="utf-8").strip()
    except OSError:
        return "unreadable (no reason recorded)"


def oldest_age(spool_dir: Path, now: float | None = None) -> float | None:
    """Seconds since the oldest waiting body was spooled; None when none waits."""
    ages = []
    for path in pending(spool_dir):
        try:
            ages.append(path.stat().st_mtime)
        except FileNotFoundError:
            continue
    return ((now or time.time()) - min(ages)) if ages else None


def writable(spool_dir: Path) -> bool:
    try:
        spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return False
    return os.access(spool_dir, os.W_OK | os.X_OK)


def remove_stale_temporaries(spool_dir: Path, older_than: float = 60.0) -> int:
    """Temporary files a crashed writer left behind (never ones being written now)."""
    removed = 0
    if not spool_dir.is_dir():
        return 0
    cutoff = time.time() - older_than
    for tmp in spool_dir.glob(".*.tmp"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def _move_aside(spool_dir: Path, path: Path, why: str) -> None:
    """A file that cannot be stored is moved aside once, with its reason, never retried
    forever and never in the way of the files after it."""
    folder = spool_dir / UNREADABLE
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / path.name
    target.with_name(target.name + REASON_SUFFIX).write_text(why + "\n", encoding="utf-8")
    os.replace(path, target)
    log.error("spool file %s moved to %s: %s", path.name, folder, why)


def read(path: Path) -> tuple[bytes, dict[str, Any]]:
    record = json.loads(path.read_text(encoding="utf-8"))
    body = base64.b64decode(record["body_b64"], validate=True)
    if body_hash(body) != path.stem:
        raise ValueError("the body does not match the file's hash (torn or edited)")
    return body, record


# Errors that say the database (or the connection to it) is unavailable: the drain
# stops and what is left waits. Any other error is about the one body: moved aside.
_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError,
                psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedTable,
                psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.QueryCanceled,
                psycopg.errors.LockNotAvailable)


def drain(spool_dir: Path, dsn: str, *, connect_kwargs: dict[str, Any] | None = None,
          settings=None) -> DrainResult:
    """Store every spooled body. Stops at the first sign that the database is
    unavailable (what is left stays for the next drain); a file that cannot be read or
    stored is moved aside with its reason and the drain goes on. ``settings(conn)``:
    limits for each transaction (the receiver's statement and lock timeouts)."""
    remove_stale_temporaries(spool_dir)
    files = pending(spool_dir)
    result = DrainResult()
    if not files:
        return result
    kwargs = {"prepare_threshold": None, **(connect_kwargs or {})}
    try:
        conn = psycopg.connect(dsn, **kwargs)
    except psycopg.Error:
        result.left = len(files)
        return result
    with conn:
        for index, path in enumerate(files):
            try:
                body, record = read(path)
            except FileNotFoundError:
                continue  # drained by another process meanwhile
            except (OSError, ValueError, KeyError, TypeError) as exc:
                _move_aside(spool_dir, path, f"unreadable spool file: {exc}")
                result.unreadable += 1
                continue
            try:
                if settings is not None:
                    settings(conn)
                store_event(conn, body, parse_body(body),
                            webhook_version=record.get("webhook_version"),
                            secret_index=record.get("secret_index"),
                            source=record.get("source", "webhook"))
                conn.commit()
            except _UNAVAILABLE as exc:
                conn.rollback()
                log.warning("spool drain stopped: %s", type(exc).__name__)
                result.left = len(files) - index
                break
            except (psycopg.Error, ValueError, UnicodeError) as exc:
                conn.rollback()
                detail = getattr(getattr(exc, "diag", None), "message_primary", None) or str(exc)
                _move_aside(spool_dir, path, f"the database refused the body: "
                                             f"{type(exc).__name__}: {detail[:300]}")
                result.unreadable += 1
                continue
            path.unlink(missing_ok=True)
            result.drained += 1
    log.info("spool drain: %d stored, %d left, %d moved aside", result.drained, result.left,
             result.unreadable)
    return result
