"""Bulk-load historical Cal.com deliveries from a JSON-lines file.

One raw body per line, through the same parsing and body-hash dedupe as the
receiver, stored with ``source = 'import'``. A bad line (not JSON, not a Cal.com body,
longer than a body can be, refused by the database) is reported by its line number and
skipped; the rest is loaded, and a re-run loads nothing twice.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from ingest.db import connect
from ingest.store import (
    INSERT_EVENT,
    ParsedBody,
    body_hash,
    parse_body,
    storable_trigger,
    store_event,
)

BATCH = 500
# a line longer than this is skipped unread (the receiver's body cap is 1 MiB); memory
# stays bounded whatever the file holds
MAX_LINE_BYTES = 16 * 1024 * 1024


@dataclass
class ImportSummary:
    lines: int = 0
    stored: int = 0
    duplicates: int = 0
    malformed: list[tuple[int, str]] = field(default_factory=list)


class Progress:
    """A plain stderr progress bar; one line per 10% when stderr is not a terminal."""

    def __init__(self, total: int, label: str, stream=sys.stderr):
        self.total, self.label, self.stream = max(total, 1), label, stream
        self.tty = stream.isatty()
        self._last_decile = -1

    def update(self, done: int) -> None:
        pct = int(100 * done / self.total)
        if self.tty:
            bar = "#" * (pct // 4)
            self.stream.write(f"\r{self.label} [{bar:<25}] {done}/{self.total} ({pct}%)")
            if done >= self.total:
                self.stream.write("\n")
            self.stream.flush()
        elif pct // 10 != self._last_decile:
            self._last_decile = pct // 10
            self.stream.write(f"{self.label}: {done}/{self.total} ({pct}%)\n")


def _store_batch(conn: psycopg.Connection, batch: list[tuple[bytes, ParsedBody, int]],
                 summary: ImportSummary) -> None:
    """One pipelined executemany for the batch; row by row if Postgres refuses any row
    (a ``\u0000`` that jsonb rejects), so that row is stored with its parse error."""
    params = [(storable_trigger(p.trigger_event), body, p.text, None, body_hash(body), None,
               None, "import") for body, p, _ in batch]
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(INSERT_EVENT, params, returning=True)
            stored = 0
            while True:
                stored += len(cur.fetchall())
                if not cur.nextset():
                    break
        summary.stored += stored
        summary.duplicates += len(batch) - stored
    except (psycopg.errors.DataError, psycopg.errors.ProgramLimitExceeded, UnicodeError):
        for body, parsed, number in batch:
            try:
                result = store_event(conn, body, parsed, webhook_version=None,
                                     secret_index=None, source="import")
            except (psycopg.errors.DataError, psycopg.errors.ProgramLimitExceeded,
                    UnicodeError) as exc:
                summary.malformed.append((number, f"the database refused it: {exc}"[:300]))
                continue
            if result.status == "stored":
                summary.stored += 1
            else:
                summary.duplicates += 1



def bounded_lines(fh, limit: int):
    """The file's lines, each at most ``limit`` bytes; None for a longer one (skipped to
    its end, never held in memory)."""
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := fh.readline(limit)) and not rest.endswith(b"\n"):
                pass
            yield None
            continue
        yield line


def count_lines(path: Path, chunk: int = 1 << 20) -> int:
    """Lines in the file (a last line without a newline counts), in constant memory."""
    count, last = 0, b""
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (1 if last and last != b"\n" else 0)


def import_events(dsn: str, path: Path,
                  progress: Callable[[int, int], None] | None = None) -> ImportSummary:
    """Stream the file line by line (bounded memory whatever its size or shape)."""
    summary = ImportSummary()
    total = count_lines(path)
    batch: list[tuple[bytes, ParsedBody, int]] = []
    with connect(dsn) as conn, open(path, "rb") as fh:
        for number, line in enumerate(bounded_lines(fh, MAX_LINE_BYTES), start=1):
            summary.lines += 1
            if line is None:
                summary.malformed.append((number, f"longer than {MAX_LINE_BYTES} bytes"))
            elif not (body := line.removesuffix(b"\n").removesuffix(b"\r")).strip():
                summary.malformed.append((number, "empty line"))
            else:
                parsed = parse_body(body)
                if parsed.is_event:
                    batch.append((body, parsed, number))
                else:
                    summary.malformed.append((number, parsed.detail or "malformed"))
            if number % BATCH == 0 or number == total:
                if batch:
                    _store_batch(conn, batch, summary)
                    batch = []
                conn.commit()
                if progress:
                    progress(number, total)
    return summary
