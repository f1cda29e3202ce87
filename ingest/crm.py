"""CRM lead snapshots: a CSV export or a table in the same database.

One run is one snapshot with one ``snapshot_at``. All or nothing: any invalid input
aborts before anything is written, with a message naming the row and column.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg import sql

from ingest.db import connect

log = logging.getLogger("booking_report.crm")

REQUIRED = ("lead_id", "created_at")
# the longest physical line of a CSV export read into memory (a row longer than this is
# an error naming it, however the file is shaped: a 1 GB line is never held), and the
# longest field Python's csv reader accepts
MAX_LINE_CHARS = 8 * 1024 * 1024
csv.field_size_limit(MAX_LINE_CHARS)
# the limits the models give keys (macros/bounds.sql): longer values are stored as
# received and listed in the feed problems by the refresh; load-crm warns about them
KEY_LIMITS = {"lead_id": 255, "email": 320, "name": 255, "source": 255, "booking_uid": 255}
OPTIONAL = ("email", "name", "source", "status", "booking_status", "booking_uid",
            "booked_at", "invited_at", "reminder_sent_at", "updated_at")
KNOWN = REQUIRED + OPTIONAL
TIMESTAMPS = ("created_at", "booked_at", "invited_at", "reminder_sent_at", "updated_at")


class CrmInputError(ValueError):
    """The CRM input is invalid; nothing was written."""


@dataclass
class LoadResult:
    snapshot_id: int
    snapshot_at: datetime
    rows: int
    # rows with a value longer than the models' key limits: stored as received, listed
    # in the feed problems by the next refresh (the first few: (row, fields))
    oversized_rows: int = 0
    oversized_examples: list[tuple[int, list[str]]] = field(default_factory=list)


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """``["booking_status=Meeting Status", …]`` → {known column: input header}."""
    mapping: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise CrmInputError(f"--map {item!r}: expected KNOWN_COLUMN=Input Header")
        known, _, header = item.partition("=")
        known, header = known.strip(), header.strip()
        if known not in KNOWN:
            raise CrmInputError(
                f"--map {item!r}: {known!r} is not a known column ({', '.join(KNOWN)})")
        if not header:
            raise CrmInputError(f"--map {item!r}: the input header is empty")
        mapping[known] = header
    return mapping


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CrmInputError(f"unknown CRM timezone {name!r} (use an IANA name)") from exc


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_timestamp(value: Any, tz: ZoneInfo) -> datetime | None:
    """ISO-8601 with or without a zone (``Z``, ``+00:00``); no zone = ``tz``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=tz)
    text = str(value).strip()
    if not text:
        return None
    if _DATE_ONLY.match(text):
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=tz)
    parsed = datetime.fromisoformat(text.replace(" UTC", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def header_key(header: str) -> str:
    """Headers match case-, space- and underscore-insensitively: `Booking Status`,
    `booking_status` and ` BOOKING STATUS ` are one column."""
    return " ".join(re.split(r"[\s_\-]+", header.strip().lower())).strip()


class CrmRows(list):
    """Validated rows, plus the input columns that feed no known column (kept only in
    the row's JSON) so the loader can name them."""

    unused_columns: list[str]


def resolve_headers(headers: list[str], mapping: dict[str, str], where: str
                    ) -> tuple[dict[str, str | None], list[str]]:
    """{known column: input header or None}, and the input headers nothing reads."""
    by_key: dict[str, str] = {}
    for header in headers:
        key = header_key(header)
        if key in by_key:
            raise CrmInputError(f"{where}: columns {by_key[key]!r} and {header!r} differ only "
                                "in case or spacing; keep one")
        by_key[key] = header
    for known, header in mapping.items():
        if header_key(header) not in by_key:
            raise CrmInputError(f"{where}: --map {known}={header!r}: no such column; found "
                                f"columns: {', '.join(headers) or '(none)'}")
    header_for = {k: by_key.get(header_key(mapping.get(k, k))) for k in KNOWN}
    missing = [f"{k!r}" + (f" (mapped from {mapping[k]!r})" if k in mapping else "")
               for k in REQUIRED if header_for[k] is None]
    if missing:
        raise CrmInputError(
            f"{where}: required column {', '.join(missing)} is missing; found columns: "
            f"{', '.join(headers) or '(none)'}. Rename it or use --map lead_id=YourHeader")
    used = {h for h in header_for.values() if h is not None}
    return header_for, [h for h in headers if h not in used]


def _typed_row(rec: dict[str, Any], header_for: dict[str, str | None], *, tz: ZoneInfo,
               where: str, line: int) -> dict[str, Any]:
    """One record, validated and typed; CrmInputError names its row and column."""
    row: dict[str, Any] = {}
    for known in KNOWN:
        header = header_for[known]
        raw = rec.get(header) if header is not None else None
        if known in TIMESTAMPS:
            try:
                row[known] = parse_timestamp(raw, tz)
            except ValueError:
                raise CrmInputError(
                    f"{where}: row {line}, column {header!r}: cannot read {raw!r} as a "
                    "timestamp (use ISO-8601, e.g. 2026-11-20T14:30:00Z)") from None
        else:
            row[known] = _clean(raw)
            if row[known] is not None and "\x00" in row[known]:
                raise CrmInputError(f"{where}: row {line}, column {header!r}: the value holds a "
                                    "NUL character; Postgres cannot store it as text (fix the "
                                    "export)")
    if not row["lead_id"]:
        raise CrmInputError(f"{where}: row {line}: {header_for['lead_id']!r} is empty")
    if row["created_at"] is None:
        raise CrmInputError(f"{where}: row {line}, column {header_for['created_at']!r} is empty")
    row["row"] = {k: (v.isoformat() if isinstance(v, datetime | date) else v)
                  for k, v in rec.items() if k is not None}
    if any("\x00" in str(v) for v in row["row"].values() if v is not None):
        raise CrmInputError(f"{where}: row {line}: a value holds a NUL character; Postgres "
                            "cannot store it (fix the export)")
    row["row_number"] = line
    return row


def oversized(row: dict[str, Any]) -> list[str]:
    """The fields of a row longer than the models' key limits (stored, then listed by
    the refresh as feed problems instead of counted)."""
    return [f"{field} ({len(row[field])} characters)" for field, limit in KEY_LIMITS.items()
            if row.get(field) and len(row[field]) > limit]


def _duplicate(where: str, lead_id: str, lines: list[int]) -> CrmInputError:
    rows = " and ".join(str(n) for n in lines[:2]) if len(lines) >= 2 else "several"
    return CrmInputError(f"{where}: lead_id {lead_id!r} appears twice (rows {rows}); a "
                         "snapshot has one row per lead")


def prepare_rows(headers: list[str], records: list[dict[str, Any]], *,
                 mapping: dict[str, str], tz: ZoneInfo, where: str,
                 first_row_number: int = 2) -> CrmRows:
    """Validate and type every record in memory (small inputs: the demo, tests); raise
    CrmInputError naming the first problem. `load-crm` streams instead (load_snapshot)."""
    header_for, unused = resolve_headers(headers, mapping, where)
    out = CrmRows()
    out.unused_columns = unused
    seen: dict[str, int] = {}
    for offset, rec in enumerate(records):
        line = first_row_number + offset
        row = _typed_row(rec, header_for, tz=tz, where=where, line=line)
        if row["lead_id"] in seen:
            raise _duplicate(where, row["lead_id"], [seen[row["lead_id"]], line])
        seen[row["lead_id"]] = line
        out.append(row)
    return out


class CrmSource:
    """Records of a CSV export or a table, read in a stream: ``headers``, then
    ``records()`` yields (row number, record) and may be called again (to find the
    rows of a duplicate lead)."""

    def __init__(self, where: str, headers: list[str],
                 records: Callable[[], Iterator[tuple[int, dict[str, Any]]]]):
        self.where, self.headers, self.records = where, headers, records


def csv_source(path: Path) -> CrmSource:
    def open_reader():
        try:
            fh = open(path, encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise CrmInputError(f"cannot read {path}: {exc.strerror}") from None
        return fh, csv.reader(_bounded_lines(fh, path))

    def headers() -> list[str]:
        fh, reader = open_reader()
        with fh:
            try:
                return [h.strip() for h in next(reader, [])]
            except UnicodeDecodeError as exc:
                raise _not_utf8(path, exc) from None

    names = headers()

    def records() -> Iterator[tuple[int, dict[str, Any]]]:
        fh, reader = open_reader()
        with fh:
            line = 1
            try:
                next(reader, None)
                for offset, values in enumerate(reader):
                    line = offset + 2
                    if len(values) > len(names):
                        raise CrmInputError(
                            f"{path}: row {line} has more fields than the header")
                    yield line, dict(zip(names, values, strict=False))
            except UnicodeDecodeError as exc:
                raise _not_utf8(path, exc) from None
            except csv.Error as exc:
                raise CrmInputError(f"{path}: row {line + 1} cannot be read as CSV: {exc} "
                                    "(a NUL byte, or a field over "
                                    f"{MAX_LINE_CHARS // (1024 * 1024)} MB)") from None

    return CrmSource(str(path), names, records)


def _bounded_lines(fh, path: Path) -> Iterator[str]:
    """The file's lines for the csv reader, each read no further than MAX_LINE_CHARS: a
    longer one is an error naming its line, never a line held whole in memory."""
    number = 0
    while True:
        line = fh.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            raise CrmInputError(f"{path}: line {number} is longer than "
                                f"{MAX_LINE_CHARS // (1024 * 1024)} MB; no CRM row is that "
                                "long (is this a CSV export?)")
        yield line


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> CrmInputError:
    return CrmInputError(f"{path}: not UTF-8 (byte {exc.start} of a block); export the CSV "
                         "as UTF-8")


def read_csv(path: Path, *, mapping: dict[str, str], tz: ZoneInfo) -> list[dict[str, Any]]:
    """The whole export validated in memory (small files; `load-crm` streams)."""
    source = csv_source(path)
    records = list(source.records())
    return prepare_rows(source.headers, [rec for _, rec in records], mapping=mapping, tz=tz,
                        where=str(path))


def table_source(conn: psycopg.Connection, table: str) -> CrmSource:
    parts = table.split(".")
    if len(parts) != 2 or not all(parts):
        raise CrmInputError(f"--table {table!r}: expected SCHEMA.TABLE, e.g. public.leads")
    ident = sql.Identifier(*parts)
    if conn.execute("select to_regclass(%s)", (sql.SQL("{}").format(ident).as_string(conn),)
                    ).fetchone()[0] is None:
        raise CrmInputError(f"--table {table!r}: no such table")
    cur = conn.execute(sql.SQL("select * from {} limit 0").format(ident))
    names = [d.name for d in cur.description or []]

    def records() -> Iterator[tuple[int, dict[str, Any]]]:
        # a server-side cursor: a million rows are never in memory at once
        with connect(conn.info.dsn) as reader, reader.cursor(name="crm_rows") as rows:
            rows.itersize = 5000
            rows.execute(sql.SQL("select * from {}").format(ident))
            for number, values in enumerate(rows, start=1):
                yield number, dict(zip(names, values, strict=True))

    return CrmSource(table, names, records)


def read_table(conn: psycopg.Connection, table: str, *, mapping: dict[str, str],
               tz: ZoneInfo) -> list[dict[str, Any]]:
    source = table_source(conn, table)
    return prepare_rows(source.headers, [rec for _, rec in source.records()],
                        mapping=mapping, tz=tz, where=table, first_row_number=1)


def load_snapshot(conn: psycopg.Connection, source: CrmSource, *, mapping: dict[str, str],
                  tz: ZoneInfo, source_name: str,
                  snapshot_at: datetime | None = None) -> tuple[LoadResult, list[str]]:
    """Stream the source into one snapshot with COPY, in constant memory: every row is
    validated on the way; any problem rolls the whole snapshot back (nothing written)
    and names its row. Returns the result and the input columns nothing reads."""
    header_for, unused = resolve_headers(source.headers, mapping, source.where)
    count = oversized_rows = 0
    examples: list[tuple[int, list[str]]] = []
    try:
        with conn.transaction():
            snap_id, snap_at = conn.execute(
                "insert into raw.crm_snapshots (snapshot_at, source_name, row_count)"
                " values (coalesce(%s, now()), %s, 0) returning snapshot_id, snapshot_at",
                (snapshot_at, source_name)).fetchone()
            with conn.cursor().copy(_COPY_SQL) as copy:
                for line, rec in source.records():
                    row = _typed_row(rec, header_for, tz=tz, where=source.where, line=line)
                    copy.write_row(_copy_values(snap_id, snap_at, row))
                    count += 1
                    if too_long := oversized(row):
                        oversized_rows += 1
                        if len(examples) < 5:
                            examples.append((line, too_long))
            conn.execute("update raw.crm_snapshots set row_count = %s where snapshot_id = %s",
                         (count, snap_id))
    except psycopg.errors.UniqueViolation as exc:
        detail = exc.diag.message_detail or ""
        found = re.search(r"lead_id\)=\(\d+, (.*)\) already exists", detail)
        digest = re.search(r"md5\(lead_id\)\)=\(\d+, ([0-9a-f]{32})\)", detail)
        lines: list[int] = []
        lead_id = found.group(1) if found else "?"
        for line, rec in source.records():
            value = _clean(rec.get(header_for["lead_id"] or ""))
            if value is None:
                continue
            if (found and value == lead_id) or (
                    digest and hashlib.md5(value.encode()).hexdigest() == digest.group(1)):
                lines.append(line)
                lead_id = value if digest else lead_id
        if digest:
            lead_id = lead_id[:40] + "…"
        raise _duplicate(source.where, lead_id, lines) from None
    refresh_statistics(conn)
    return LoadResult(snap_id, snap_at, count, oversized_rows, examples), unused


def refresh_statistics(conn: psycopg.Connection) -> None:
    """ANALYZE the snapshot tables after a load: the refresh reads one snapshot by its
    key, and on stale estimates (autovacuum off, or not yet run) Postgres would scan
    every snapshot ever loaded instead. Best effort: a role that does not own the
    tables gets a warning from Postgres, not an error, and the load stands."""
    try:
        with conn.transaction():
            conn.execute("analyze raw.crm_snapshots, raw.crm_lead_snapshots")
    except psycopg.Error as exc:
        log.warning("could not analyze the CRM snapshot tables: %s", exc)


_COPY_COLUMNS = ["snapshot_id", "snapshot_at", "lead_id", "row", "row_number",
                 *[k for k in KNOWN if k != "lead_id"]]
_COPY_SQL = sql.SQL("copy raw.crm_lead_snapshots ({}) from stdin").format(
    sql.SQL(", ").join(sql.Identifier(c) for c in _COPY_COLUMNS))


def _copy_values(snap_id: int, snap_at: datetime, row: dict[str, Any]) -> list[Any]:
    return [snap_id, snap_at, row["lead_id"], json.dumps(row["row"], default=str),
            row.get("row_number"), *[row[k] for k in KNOWN if k != "lead_id"]]


def write_snapshot(conn: psycopg.Connection, rows: list[dict[str, Any]], source_name: str,
                   snapshot_at: datetime | None = None) -> LoadResult:
    """Rows already validated in memory (prepare_rows) as one snapshot."""
    with conn.transaction():
        snap_id, snap_at = conn.execute(
            "insert into raw.crm_snapshots (snapshot_at, source_name, row_count)"
            " values (coalesce(%s, now()), %s, %s) returning snapshot_id, snapshot_at",
            (snapshot_at, source_name, len(rows)),
        ).fetchone()
        with conn.cursor().copy(_COPY_SQL) as copy:
            for row in rows:
                copy.write_row(_copy_values(snap_id, snap_at, row))
    return LoadResult(snap_id, snap_at, len(rows))
