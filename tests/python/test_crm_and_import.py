"""CRM snapshot loading, bulk event import and init-db, through the real CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg
import pytest
from helpers import cli, fetchall, fixture_body

from ingest.db import init_db, migration_files

GOOD_CSV = (
    "\ufefflead_id,created_at,email,name,source,status,Meeting Status,booked_at,updated_at,"
    "plan\n"
    "L-1,2026-11-02T09:00:00Z, Ann@Example.com ,Ann,ads,New,Meeting Booked,"
    "2026-11-03 10:00:00,2026-11-03T10:05:00+01:00,pro\n"
    "L-2,2026-11-02 11:30,bo@example.com,Bo,,Spam,,,,\n"
)


def test_init_db_twice_is_a_no_op(empty_db):
    first = cli(empty_db, "init-db")
    assert first.returncode == 0, first.stderr
    assert "applied" in first.stdout
    second = cli(empty_db, "init-db")
    assert second.returncode == 0 and "up to date" in second.stdout
    versions = [v for (v,) in fetchall(empty_db, "select version from raw.schema_migrations")]
    assert versions == [v for v, _ in migration_files()]


def test_newer_migration_upgrades_an_older_database_keeping_rows(empty_db):
    """A database made with only the first migration gains the later ones, rows kept."""
    first_version, first_sql = migration_files()[0]
    with psycopg.connect(empty_db) as conn:
        conn.execute("create schema raw")
        conn.execute("create table raw.schema_migrations (version text primary key,"
                     " applied_at timestamptz not null default now())")
        conn.execute(first_sql)
        conn.execute("insert into raw.schema_migrations (version) values (%s)",
                     (first_version,))
        conn.execute("insert into raw.calcom_webhook_events (raw_body, body_sha256)"
                     " values ('x', 'h1')")
    applied = init_db(empty_db)
    assert applied == [v for v, _ in migration_files()[1:]]
    assert fetchall(empty_db, "select body_sha256 from raw.calcom_webhook_events") == [("h1",)]
    assert fetchall(empty_db, "select count(*) from raw.manual_outcomes") == [(0,)]


def test_load_crm_csv_with_bom_mapping_zones_and_extra_columns(raw_db, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")
    res = cli(raw_db, "load-crm", str(path), "--map", "booking_status=Meeting Status",
              "--timezone", "Europe/Berlin")
    assert res.returncode == 0, res.stderr
    assert "2 leads" in res.stdout
    rows = fetchall(raw_db, "select lead_id, created_at, email, source, booking_status,"
                            " booked_at, updated_at, row->>'plan', snapshot_id"
                            " from raw.crm_lead_snapshots order by lead_id")
    l1, l2 = rows
    assert l1[0] == "L-1" and l1[2] == "Ann@Example.com" and l1[4] == "Meeting Booked"
    assert l1[1].isoformat() == "2026-11-02T09:00:00+00:00"
    # no zone in the file: the CRM timezone (Berlin, UTC+1 in November) applies
    assert l1[5] == datetime(2026, 11, 3, 9, 0, tzinfo=UTC)  # 10:00 Berlin
    assert l1[6] == datetime(2026, 11, 3, 9, 5, tzinfo=UTC)  # explicit +01:00 kept
    assert l1[7] == "pro"
    assert l2[3] is None and l2[4] is None and l2[5] is None
    assert l1[8] == l2[8]  # one run = one snapshot


@pytest.mark.parametrize("content,needle", [
    ("lead_id,email\nL-1,a@x.com\n", "required column 'created_at' is missing"),
    ("lead_id,created_at\nL-1,2026-11-02\nL-2,yesterday-ish\n", "row 3, column 'created_at'"),
    ("lead_id,created_at\nL-1,2026-11-02\nL-1,2026-11-03\n", "'L-1' appears twice"),
    ("lead_id,created_at,booked_at\nL-1,2026-11-02,13/45/2026\n", "row 2, column 'booked_at'"),
])
def test_load_crm_invalid_input_writes_nothing(raw_db, tmp_path, content, needle):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    res = cli(raw_db, "load-crm", str(path))
    assert res.returncode == 2
    assert needle in res.stderr and "nothing was written" in res.stderr
    assert fetchall(raw_db, "select count(*) from raw.crm_lead_snapshots") == [(0,)]
    assert fetchall(raw_db, "select count(*) from raw.crm_snapshots") == [(0,)]


def test_load_crm_from_a_table_in_the_same_database(raw_db):
    with psycopg.connect(raw_db) as conn:
        conn.execute("create table public.leads (id text, created timestamptz, email text,"
                     " booking_status text)")
        conn.execute("insert into public.leads values ('A', '2026-11-01T08:00Z', 'a@x.com',"
                     " 'Showed'), ('B', '2026-11-02T08:00Z', null, null)")
    res = cli(raw_db, "load-crm", "--table", "public.leads", "--map", "lead_id=id",
              "--map", "created_at=created")
    assert res.returncode == 0, res.stderr
    assert fetchall(raw_db, "select lead_id, booking_status from raw.crm_lead_snapshots"
                            " order by 1") == [("A", "Showed"), ("B", None)]
    missing = cli(raw_db, "load-crm", "--table", "public.nope")
    assert missing.returncode == 2 and "no such table" in missing.stderr


def test_load_crm_rejects_a_bad_map_option(raw_db, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")
    res = cli(raw_db, "load-crm", str(path), "--map", "stage=Meeting Status")
    assert res.returncode == 2 and "'stage' is not a known column" in res.stderr


def test_import_events_skips_bad_lines_and_dedupes(raw_db, tmp_path):
    created = fixture_body("BOOKING_CREATED").replace(b"\n", b"")
    cancelled = fixture_body("BOOKING_CANCELLED").replace(b"\n", b"")
    lines = [created, b"{not json", cancelled, created, b'["an", "array"]']
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    res = cli(raw_db, "import-events", str(path))
    # skipped lines are listed and counted, and the exit says some were skipped
    assert res.returncode == 1, res.stderr
    assert "2 lines skipped" in res.stderr
    assert "5 lines: 2 stored, 1 duplicates, 2 malformed" in res.stdout
    assert f"{path}:2: skipped" in res.stderr and f"{path}:5: skipped" in res.stderr
    rows = fetchall(raw_db, "select raw_body, source, trigger_event from"
                            " raw.calcom_webhook_events order by event_id")
    assert [(bytes(b), s, t) for b, s, t in rows] == [
        (created, "import", "BOOKING_CREATED"), (cancelled, "import", "BOOKING_CANCELLED")]
    assert json.loads(rows[0][0]) == json.loads(fixture_body("BOOKING_CREATED"))


def test_cli_names_bad_input(raw_db, tmp_path):
    res = cli(raw_db, "import-events", str(tmp_path / "missing.jsonl"))
    assert res.returncode == 2 and "missing.jsonl: no such file" in res.stderr
    res = cli(raw_db, "refresh", "--as-of", "last tuesday")
    assert res.returncode == 2 and "--as-of 'last tuesday'" in res.stderr
    res = cli(raw_db, "serve", "--port", "0")
    assert res.returncode == 2 and "must be greater than 0" in res.stderr


def test_import_keeps_a_body_jsonb_refuses_and_the_rest_of_its_batch(raw_db, tmp_path):
    nul = (b'{"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-11-16T09:00:00Z",'
           b' "payload": {"uid": "bk_nul", "title": "a\\u0000b"}}')
    good = fixture_body("BOOKING_REQUESTED").replace(b"\n", b"")
    path = tmp_path / "events.jsonl"
    path.write_bytes(good + b"\n" + nul + b"\n")
    res = cli(raw_db, "import-events", str(path))
    assert res.returncode == 0, res.stderr
    assert "2 lines: 2 stored, 0 duplicates, 0 malformed" in res.stdout
    rows = fetchall(raw_db, "select raw_body, payload is null, parse_error from"
                            " raw.calcom_webhook_events order by event_id")
    assert [(bytes(b), n) for b, n, _ in rows] == [(good, False), (nul, True)]
    assert "jsonb" in rows[1][2]


def test_import_events_goes_on_past_bad_lines_and_a_rerun_stores_nothing_twice(
        raw_db, tmp_path):
    """A line whose trigger Postgres cannot hold as text (a lone surrogate), a NUL in
    the trigger, a line longer than any body (read no further than its limit): each is
    skipped or stored as bytes with its line number named, the 1,000 good lines around
    them are all stored, and a second run adds nothing (it used to stop at the first
    such line, there again on every run)."""
    from ingest import importer

    good = [json.dumps({"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-11-16T09:00:00Z",
                        "payload": {"uid": f"imp-{i}"}}).encode() for i in range(1000)]
    surrogate = b'{"triggerEvent": "BOOKING_\\ud800", "createdAt": "2026-11-16T09:00:00Z"}'
    nul = b'{"triggerEvent": "BOOKING\\u0000CREATED", "createdAt": "2026-11-16T09:00:00Z"}'
    huge = b'{"triggerEvent": "BOOKING_CREATED", "x": "' + b"y" * (importer.MAX_LINE_BYTES + 10)
    lines = good[:500] + [surrogate, nul, huge] + good[500:]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    first = cli(raw_db, "import-events", str(path))
    assert first.returncode == 1 and "Traceback" not in first.stderr, first.stderr
    assert f"{path}:503: skipped: longer than" in first.stderr
    good_stored = fetchall(raw_db, "select count(*) from raw.calcom_webhook_events"
                                   " where position('imp-' in convert_from(raw_body, 'UTF8')) > 0")
    assert good_stored == [(1000,)]
    # the odd triggers are kept as bytes (the column holds no text Postgres refuses)
    odd = fetchall(raw_db, "select trigger_event from raw.calcom_webhook_events"
                           " where position('imp-' in convert_from(raw_body, 'UTF8')) = 0")
    assert sorted(odd, key=str) == [(None,), (None,)]
    again = cli(raw_db, "import-events", str(path))
    assert "1003 lines: 0 stored, 1002 duplicates, 1 malformed" in again.stdout, again.stdout
    assert fetchall(raw_db, "select count(*) from raw.calcom_webhook_events") == [(1002,)]
