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

from ingest.store import parse_body, store_event

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


def import_events(dsn: str, path: Path,
                  progress: Callable[[int, int], None] | None = None) -> ImportSummary:
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    summary = ImportSummary()
    total = len(lines)
    with psycopg.connect(dsn) as conn:
        for number, line in enumerate(lines, start=1):
            body = line.removesuffix(b"\r")
            summary.lines += 1
            if body.strip():
                parsed = parse_body(body)
                if not parsed.is_event:
                    summary.malformed.append((number, parsed.detail or "malformed"))
                else:
                    result = store_event(conn, body, parsed, webhook_version=None,
                                         secret_index=None, source="import")
                    if result.status == "stored":
                        summary.stored += 1
                    else:
                        summary.duplicates += 1
            else:
                summary.malformed.append((number, "empty line"))
            if number % BATCH == 0 or number == total:
                conn.commit()
                if progress:
                    progress(number, total)
        conn.commit()
    return summary
