"""Fixtures: throwaway databases on the real Postgres, built scenarios cloned from
templates built once per run, one dbt target folder per test process."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from booking_report.transform import run_dbt
from devtools.pg import (
    STALE_TEMPLATE_SECONDS,
    Templates,
    create_database,
    drop_database,
    drop_templates,
    dsn_for,
    new_run_id,
)
from ingest.db import init_db

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
RUN_ID_VARIABLE = "BOOKING_REPORT_TEST_RUN_ID"


def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config):
    # one id for the whole run, inherited by pytest-xdist's workers (started later)
    if _is_controller(config) and RUN_ID_VARIABLE not in os.environ:
        os.environ[RUN_ID_VARIABLE] = new_run_id()
        drop_templates(older_than=STALE_TEMPLATE_SECONDS)  # left by a run that crashed


def pytest_collection_modifyitems(config, items):
    # the slowest first: a worker that draws a long test late would finish alone
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_collection_finish(session):
    # the groups (one browser, one set of outages, one MetricFlow project folder) hold
    # only if pytest-xdist tagged their ids; a pytest it does not support drops the tags
    # without a word, and the groups' tests then race each other
    config = session.config
    if _is_controller(config) or not config.getoption("loadgroup", False):
        return
    untagged = [item.nodeid for item in session.items
                if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if untagged:
        raise pytest.UsageError(f"pytest-xdist ignored xdist_group for {untagged[:3]}: "
                                "install the pytest version pyproject.toml pins")


def pytest_sessionfinish(session, exitstatus):
    if _is_controller(session.config) and os.environ.get(RUN_ID_VARIABLE):
        Templates(os.environ[RUN_ID_VARIABLE]).drop_all()


@pytest.fixture(scope="session")
def templates() -> Templates:
    return Templates(os.environ[RUN_ID_VARIABLE])


@pytest.fixture(scope="session")
def target_dir(tmp_path_factory):
    """dbt's target/ and logs/ for this test process: shared, so dbt parses the project
    once per process and settings (booking_report.transform.ManifestCache)."""
    return tmp_path_factory.mktemp("dbt")


@pytest.fixture(scope="session")
def manifest(target_dir) -> dict:
    """dbt's manifest.json for the project (`dbt parse`; no database is read)."""
    result = run_dbt(dsn_for("postgres"), ["parse"], target_dir=target_dir)
    assert result.success, result.exception
    return json.loads((target_dir / "target" / "manifest.json").read_text())


@pytest.fixture
def empty_db() -> Iterator[str]:
    dsn = create_database()
    try:
        yield dsn
    finally:
        drop_database(dsn)


@pytest.fixture
def raw_db(empty_db: str) -> str:
    init_db(empty_db)
    return empty_db
