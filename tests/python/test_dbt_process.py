"""What the refresh process does to make dbt's fixed cost per node smaller, and must not
change: Jinja's compiled code kept per source and environment (booking_report/jinja_memo.py)
and dbt's log written from its events (booking_report/dbt_log.py)."""

from __future__ import annotations

import os
import re

import jinja2
import pytest
from dbt.adapters.events.types import SQLQuery
from dbt.clients.jinja import get_rendered
from dbt.events.types import MainReportVersion, RunResultError
from dbt_common.clients.jinja import get_environment
from dbt_common.events.base_types import msg_from_base_event
from dbt_common.events.types import PrintEvent
from dbt_common.exceptions import CompilationError

from booking_report import dbt_log, jinja_memo


def test_compiled_code_is_kept_per_source_and_rendered_with_each_context():
    jinja_memo.install()
    jinja_memo.install()  # idempotent: one wrapper, not two
    source = "select {{ n }} as n{% if flag %}, 'on' as flag{% endif %} -- memo-test-1"
    before = dict(jinja_memo.stats)
    assert get_rendered(source, {"n": 1, "flag": False}) == "select 1 as n -- memo-test-1"
    assert get_rendered(source, {"n": 2, "flag": True}) == \
        "select 2 as n, 'on' as flag -- memo-test-1"
    assert jinja_memo.stats["compiled"] == before["compiled"] + 1
    assert jinja_memo.stats["reused"] == before["reused"] + 1
    # dbt's native environment generates other code for the same text: its own entry
    for _ in range(2):
        assert get_environment(native=True).from_string("{{ x }}").render({"x": 5}) == 5
        assert get_environment().from_string("{{ x }}").render({"x": 5}) == "5"
    # an error in a template is still raised, every time (nothing kept for it)
    for _ in range(2):
        with pytest.raises(CompilationError):
            get_rendered("{% if %}", {})


def test_environments_that_compile_differently_never_share_code():
    jinja_memo.install()
    plain = get_environment()
    other = get_environment()
    other.variable_start_string, other.variable_end_string = "[[", "]]"
    source = "[[ x ]] {{ x }}"
    assert jinja_memo.shape(plain) != jinja_memo.shape(other)
    assert plain.from_string(source).render({"x": 1}) == "[[ x ]] 1"
    assert other.from_string(source).render({"x": 1}) == "1 {{ x }}"
    # a filter the code generator sees differently (it passes the context to this one)
    @jinja2.pass_context
    def who(context, value):
        return f"{value}@{context.get('host')}"

    with_filter = get_environment()
    with_filter.filters["who"] = who
    assert with_filter.from_string("{{ 'a' | who }}").render({"host": "h"}) == "a@h"
    with_filter.filters["who"] = lambda value: f"{value}!"
    assert with_filter.from_string("{{ 'a' | who }}").render({"host": "h"}) == "a!"


def event(e):
    """dbt's message for event ``e``, as its callbacks receive it."""
    return msg_from_base_event(e)


def test_the_log_keeps_its_level_scrubs_secrets_and_prints_errors(tmp_path, capfd,
                                                                 monkeypatch):
    monkeypatch.setenv("DBT_ENV_SECRET_PGPASSWORD", "hunter2-secret")
    monkeypatch.delenv("DBT_LOG_LEVEL_FILE", raising=False)
    log = dbt_log.DbtLog(tmp_path)
    log(event(MainReportVersion(version="1.11", log_version=3)))
    log(event(SQLQuery(conn_name="model.x", sql="select 'hunter2-secret'", node_info={})))
    log(event(PrintEvent(msg="printed by a macro")))
    log(event(RunResultError(msg="Database Error in model x (hunter2-secret)")))
    text = (tmp_path / "dbt.log").read_text()
    assert "[debug]" not in text and "select" not in text  # info: no statements
    assert re.search(r"^\n?\n?=+ \d\d:\d\d:\d\d\.\d+ \| \S+ =+$", text, re.M), text
    assert re.search(r"\d\d:\d\d:\d\d\.\d{6} \[info \] \[MainThread]: Running with dbt",
                     text), text
    assert "Database Error in model x (*****)" in text and "hunter2" not in text
    out = capfd.readouterr().out
    assert "printed by a macro" in out
    assert re.search(r"^\d\d:\d\d:\d\d    Database Error in model x \(\*\*\*\*\*\)$", out,
                     re.M), out
    assert "hunter2" not in out and "Running with dbt" not in out  # quiet: errors only

    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "debug")  # brings the statements back
    debug = dbt_log.DbtLog(tmp_path / "debug")
    debug(event(SQLQuery(conn_name="model.x", sql="select 'hunter2-secret'", node_info={})))
    text = (tmp_path / "debug" / "dbt.log").read_text()
    assert "[debug]" in text and "select '*****'" in text, text
    assert os.environ["DBT_LOG_LEVEL_FILE"] == "debug"
