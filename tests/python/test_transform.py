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
    run_dbt,
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


def test_only_what_changed_follows_the_project(target_dir):
    """The selection of a refresh of only what changed, on the real project
    (booking_report/selection.py): the clock's models always; a raw table's staging
    only when it has something new; closed downward; no scope table left stale under a
    model that runs."""
    from booking_report.selection import (
        TRACKED_SOURCES,
        batch_scopes,
        models_to_run,
        reads_clock,
    )

    parsed = run_dbt(dsn_for("postgres"), ["parse"], target_dir=target_dir)
    assert parsed.success, parsed.exception
    manifest = parsed.result
    models = {uid: node for uid, node in manifest.nodes.items()
              if str(node.resource_type) == "model"}
    by_name = {node.name: uid for uid, node in models.items()}
    clock = {node.name for node in models.values() if reads_clock(manifest, node)}
    # the as_of macro directly, through crossed_clock / crossed_grace, or now() itself
    assert {"int_booking_outcomes", "int_changed_outcomes", "feed_health",
            "reconciliation_gaps", "int_refresh_log"} <= clock
    assert not clock & {"stg_calcom__webhook_events", "int_crm_leads", "int_booking_chains"}
    scopes = {models[uid].name for uid in batch_scopes(manifest) if uid in models}
    # the batch number directly, or through another scope table
    assert {"int_changed_booking_uids", "int_changed_chains", "int_changed_matches"} <= scopes
    assert "stg_calcom__webhook_events" not in scopes  # incremental: stamped, not a scope

    def children(name: str) -> set[str]:
        return {models[c].name for c in manifest.child_map[by_name[name]] if c in models}

    def check(selected: list[str]) -> set[str]:
        chosen = set(selected)
        for name in chosen - scopes:  # closed downward (a scope table may run alone)
            assert children(name) <= chosen, (name, children(name) - chosen)
        for name in scopes - chosen:  # no stale scope under a model that runs
            assert not children(name) & chosen, (name, children(name) & chosen)
        assert clock <= chosen
        return chosen

    quiet = check(models_to_run(manifest, set(TRACKED_SOURCES)))
    assert not quiet & {"stg_calcom__webhook_events", "stg_calcom__event_attendees",
                        "stg_calcom__api_bookings", "stg_crm__snapshots", "int_crm_leads",
                        "int_booking_chains", "metricflow_time_spine"}
    # the chains the clock's outcome step reads, fresh ("nothing changed"), alone
    assert {"int_changed_chains", "int_changed_booking_uids"} <= quiet
    webhooks = check(models_to_run(manifest, set(TRACKED_SOURCES)
                                   - {("calcom", "calcom_webhook_events")}))
    assert quiet < webhooks
    assert {"stg_calcom__webhook_events", "stg_calcom__event_attendees",
            "int_booking_chains"} <= webhooks
    assert not webhooks & {"stg_crm__snapshots", "int_crm_leads", "stg_calcom__api_bookings"}
    # every raw table changed: every model but the constant time spine (no raw table,
    # no clock above it)
    everything = check(models_to_run(manifest, set()))
    assert everything == set(by_name) - {"metricflow_time_spine"}
    assert "int_refresh_log" not in models_to_run(
        manifest, set(), never=frozenset({"int_refresh_log"}))
