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
from pathlib import Path

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


def pending(spool_dir: Path) -> list[Path]:
    if not spool_dir.is_dir():
        return []
    return sorted(p for p in spool_dir.glob("*.json") if not p.name.startswith("."))


def drain(spool_dir: Path, dsn: str) -> int:
    """Store every spooled body; return how many files were drained."""
    files = pending(spool_dir)
    if not files:
        return 0
    drained = 0
    with psycopg.connect(dsn) as conn:
        for path in files:
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                body = base64.b64decode(record["body_b64"])
            except (OSError, ValueError, KeyError):
                log.exception("spool file unreadable, left in place: %s", path.name)
                continue
            store_event(conn, body, parse_body(body),
                        webhook_version=record.get("webhook_version"),
                        secret_index=record.get("secret_index"),
                        source=record.get("source", "webhook"))
            conn.commit()
            path.unlink(missing_ok=True)
            drained += 1
    log.info("spool drained files=%d", drained)
    return drained
