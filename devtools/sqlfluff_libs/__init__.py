"""What dbt puts in a model's Jinja context, as far as sqlfluff's jinja templater needs
it to render this project's models for linting (`.sqlfluff`, `library_path`): the
parse-time view (`execute` false, so no query runs), the project's own vars with their
defaults from dbt_project.yml, and an adapter that finds no relation."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project.yml"

execute = False
invocation_id = "sqlfluff-lint"
flags = SimpleNamespace(FULL_REFRESH=False)
target = SimpleNamespace(database="booking", schema="booking", name="lint", type="postgres")


class _Adapter:
    @staticmethod
    def get_relation(*args, **kwargs):
        return None

    @staticmethod
    def get_columns_in_relation(*args, **kwargs):
        return []

    @staticmethod
    def quote(name):
        return f'"{name}"'


adapter = _Adapter()


def run_query(*args, **kwargs):
    return None


def _project_vars() -> dict:
    import yaml  # sqlfluff's own dependency

    return yaml.safe_load(_PROJECT.read_text()).get("vars") or {}


_VARS = _project_vars()


def var(name, default=None):
    return _VARS[name] if name in _VARS else default
