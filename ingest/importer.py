"""Bulk-load historical Cal.com deliveries from a JSON-lines file.

One raw body per line, through the same parsing and body-hash dedupe as the
receiver, stored with ``source = 'import'``. A malformed line is reported by its
line number and skipped; the rest is loaded.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from ingest.store import INSERT_EVENT, ParsedBody, body_hash, parse_body, store_event

BATCH = 500


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


def _store_batch(conn: psycopg.Connection, batch: list[tuple[bytes, ParsedBody]],
                 summary: ImportSummary) -> None:
    """One pipelined executemany for the batch; row by row if Postgres refuses any row
    (a ``\u0000`` that jsonb rejects), so that row is stored with its parse error."""
    params = [(p.trigger_event, body, p.text, None, body_hash(body), None, None, "import")
              for body, p in batch]
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
    except psycopg.errors.DataError:
        for body, parsed in batch:
            result = store_event(conn, body, parsed, webhook_version=None,
                                 secret_index=None, source="import")
            if result.status == "stored":
                summary.stored += 1
            else:
                summary.duplicates += 1


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
    """Stream the file line by line (constant memory whatever its size)."""
    summary = ImportSummary()
    total = count_lines(path)
    batch: list[tuple[bytes, ParsedBody]] = []
    with psycopg.connect(dsn) as conn, open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            body = line.removesuffix(b"\n").removesuffix(b"\r")
            summary.lines += 1
            if not body.strip():
                summary.malformed.append((number, "empty line"))
            else:
                parsed = parse_body(body)
                if parsed.is_event:
                    batch.append((body, parsed))
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
