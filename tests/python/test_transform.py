"""The refresh's dbt runner: a project parsed once per process serves every database
(booking_report/transform.py, ManifestCache)."""

from __future__ import annotations

import json
import os

from booking_report.refresh import settings, settings_hash
from booking_report.transform import (
    PROFILES_DIR,
    PROJECT_DIR,
    ManifestCache,
    dbt_environment,
    for_database,
)
from devtools.pg import dsn_for


def parse(database: str, target) -> object:
    """A fresh `dbt parse` of the project for ``database`` (no cache)."""
    from dbt.cli.main import dbtRunner

    variables = settings({})
    variables["settings_hash"] = settings_hash(variables)
    saved = dict(os.environ)
    os.environ.update(dbt_environment(dsn_for(database)))
    try:
        result = dbtRunner().invoke([
            "--quiet", "parse", "--vars", json.dumps(variables),
            "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROFILES_DIR),
            "--target-path", str(target / "target"), "--log-path", str(target / "logs")])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert result.success, result.exception
    return result.result


def comparable(manifest) -> str:
    """The manifest as JSON, without what says when it was made."""

    def timeless(value):
        if isinstance(value, dict):
            return {k: timeless(v) for k, v in value.items() if k != "created_at"}
        if isinstance(value, list):
            return [timeless(v) for v in value]
        return value

    doc = manifest.writable_manifest().to_dict(omit_none=False)
    doc.pop("metadata")
    return json.dumps(timeless(doc), sort_keys=True, default=str)


def test_a_manifest_moved_to_another_database_equals_a_fresh_parse_there(tmp_path):
    parsed_for_one = parse("booking_one", tmp_path / "one")
    fresh_for_two = parse("booking_two", tmp_path / "two")
    moved = for_database(parsed_for_one, "booking_one", "booking_two")
    assert comparable(moved) == comparable(fresh_for_two)
    # the cached copy is a copy: moving it again does not change the original
    assert comparable(for_database(parsed_for_one, "booking_one", "booking_one")) \
        == comparable(parsed_for_one)
    assert '"booking_one"' not in comparable(moved)
    # the Jinja `graph` (the on-run-start hook reads its sources) follows too
    assert {node["database"] for node in moved.flat_graph["sources"].values()} == {
        "booking_two"}


def test_the_cache_key_ignores_the_database_and_the_clock_but_not_the_settings():
    one = dbt_environment(dsn_for("booking_one"))
    two = dbt_environment(dsn_for("booking_two"))
    two["PGOPTIONS"] = "-c booking_report.as_of=2026-11-23T12:00:00Z"
    vars_a = ["--vars", json.dumps({"report_timezone": "UTC"})]
    vars_b = ["--vars", json.dumps({"report_timezone": "Europe/Berlin"})]
    assert ManifestCache.key(vars_a, one) == ManifestCache.key(vars_a, two)
    assert ManifestCache.key(vars_a, one) != ManifestCache.key(vars_b, one)
    other_host = dict(one, BOOKING_REPORT_PGHOST="db.example.com")
    assert ManifestCache.key(vars_a, one) != ManifestCache.key(vars_a, other_host)
