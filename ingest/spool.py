"""A durable local spool for deliveries that arrive while Postgres is unreachable.

Cal.com does not retry a failed delivery, so when the database cannot take an
authenticated body the receiver writes it here (fsync'd, atomically renamed) and
answers 202. ``drain`` moves spooled bodies into the database later; the body-hash
dedupe makes a drain that runs twice harmless.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from ingest.store import body_hash, parse_body, store_event

log = logging.getLogger("booking_report.ingest.spool")


def write(spool_dir: Path, body: bytes, *, webhook_version: str | None,
          secret_index: int | None, source: str = "webhook") -> Path:
    spool_dir.mkdir(parents=True, exist_ok=True)
    digest = body_hash(body)
    final = spool_dir / f"{digest}.json"
    tmp = spool_dir / f".{digest}.{os.getpid()}.tmp"
    record = {
        "webhook_version": webhook_version,
        "secret_index": secret_index,
        "source": source,
        "body_b64": base64.b64encode(body).decode("ascii"),
    }
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(record, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    dir_fd = os.open(spool_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final


UNREADABLE = "unreadable"


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
    folder = spool_dir / UNREADABLE
    return sorted(folder.glob("*")) if folder.is_dir() else []


def writable(spool_dir: Path) -> bool:
    try:
        spool_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(spool_dir, os.W_OK | os.X_OK)


def _move_aside(spool_dir: Path, path: Path) -> None:
    """A torn or unreadable spool file is moved aside once, never retried forever."""
    folder = spool_dir / UNREADABLE
    folder.mkdir(parents=True, exist_ok=True)
    os.replace(path, folder / path.name)
    log.error("spool file %s is unreadable; moved to %s for a person to inspect",
              path.name, folder)


def read(path: Path) -> tuple[bytes, dict[str, Any]]:
    record = json.loads(path.read_text(encoding="utf-8"))
    body = base64.b64decode(record["body_b64"], validate=True)
    if body_hash(body) != path.stem:
        raise ValueError("the body does not match the file's hash (torn or edited)")
    return body, record


def drain(spool_dir: Path, dsn: str, *, connect_kwargs: dict[str, Any] | None = None
          ) -> DrainResult:
    """Store every spooled body. Stops at the first database error (what is left stays
    for the next drain); an unreadable file is moved aside and the drain goes on."""
    files = pending(spool_dir)
    result = DrainResult()
    if not files:
        return result
    try:
        conn = psycopg.connect(dsn, **(connect_kwargs or {}))
    except psycopg.Error:
        result.left = len(files)
        return result
    with conn:
        for index, path in enumerate(files):
            try:
                body, record = read(path)
            except FileNotFoundError:
                continue  # drained by another process meanwhile
            except (OSError, ValueError, KeyError, TypeError):
                _move_aside(spool_dir, path)
                result.unreadable += 1
                continue
            try:
                store_event(conn, body, parse_body(body),
                            webhook_version=record.get("webhook_version"),
                            secret_index=record.get("secret_index"),
                            source=record.get("source", "webhook"))
                conn.commit()
            except psycopg.Error as exc:
                log.warning("spool drain stopped: %s", type(exc).__name__)
                result.left = len(files) - index
                break
            path.unlink(missing_ok=True)
            result.drained += 1
    log.info("spool drain: %d stored, %d left, %d unreadable", result.drained, result.left,
             result.unreadable)
    return result
