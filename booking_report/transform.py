"""Run dbt (through its Python API) against the configured database."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from booking_report.database import data_dir

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROFILES_DIR = PROJECT_DIR / "profiles"

# dbtRunner invocations in one process must not overlap.
_DBT_LOCK = threading.Lock()


class TransformError(RuntimeError):
    pass


@dataclass
class BuildSummary:
    success: bool
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # type -> status -> n
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stale_sources: list[str] = field(default_factory=list)

    def count(self, resource_type: str, status: str | None = None) -> int:
        by_status = self.counts.get(resource_type, {})
        return sum(by_status.values()) if status is None else by_status.get(status, 0)


def dbt_environment(dsn: str) -> dict[str, str]:
    """Environment variables for profiles/profiles.yml, from a libpq URL."""
    params = conninfo_to_dict(dsn)
    env = {
        "BOOKING_REPORT_PGHOST": str(params.get("host") or "localhost"),
        "BOOKING_REPORT_PGPORT": str(params.get("port") or "5432"),
        "BOOKING_REPORT_PGUSER": str(params.get("user") or os.environ.get("USER", "postgres")),
        "BOOKING_REPORT_PGDATABASE": str(params.get("dbname") or params.get("user")
                                         or "postgres"),
        "DBT_ENV_SECRET_PGPASSWORD": str(params.get("password") or ""),
        "BOOKING_REPORT_PGSSLMODE": str(params.get("sslmode") or "prefer"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_DO_NOT_TRACK": "1",
        # the file log (logs/dbt.log under the data folder) at dbt's default, debug,
        # writes every statement's SQL and flushes each line: about a tenth of a
        # refresh's time when the data is small (docs/decisions/incremental.md). At info it keeps
        # each node's start, result and time and every error; DBT_LOG_LEVEL_FILE=debug
        # brings the SQL back. A quiet invocation writes it itself (dbt_log.DbtLog).
        "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE") or "info",
        # dbt's sessions must not inherit a local timezone: every "now" is a var.
        "PGTZ": "UTC",
    }
    return env


def dbt_dir(target_dir: Path | None = None) -> Path:
    """dbt's target/ and logs/ go under the data folder, not into the (maybe read-only)
    project folder; concurrent runs pass their own target_dir."""
    return Path(target_dir) if target_dir else data_dir() / "dbt"


# The environment variables profiles/profiles.yml reads, but the database's name.
_PROFILE_VARIABLES = {"BOOKING_REPORT_PGHOST", "BOOKING_REPORT_PGPORT", "BOOKING_REPORT_PGUSER",
                      "DBT_ENV_SECRET_PGPASSWORD", "BOOKING_REPORT_PGSSLMODE"}
# Commands that run against a parsed project and can take one already parsed.
_MANIFEST_COMMANDS = {"build", "run", "test", "seed", "compile", "show"}


class ManifestCache:
    """Parsed projects kept in this process, so a process that runs dbt many times
    (the refresh worker, the test suite) parses once per settings instead of once per
    invocation.

    dbt's own partial parsing cannot help a process that moves between databases: the
    database name is part of the profile hash it checks, so every switch is a full
    re-parse (2.5 s here). A manifest parsed for one database differs from another's
    only in the database part of each node's and source's relation, so it is copied and
    given the new name (``for_database``); ``tests/python/test_transform.py`` checks
    the copy equals a fresh parse.
    """

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[str, Any]] = {}
        self.parses = 0  # projects this process has parsed

    @staticmethod
    def key(args: list[str], env: dict[str, str]) -> str:
        """Everything a parse depends on, except the database name: the project's files,
        the vars and the profile and project environment."""
        from booking_report.refresh import project_files_digest

        vars_json = ""
        if "--vars" in args:
            vars_json = args[args.index("--vars") + 1]
        # what the profile reads (but the database), not PGOPTIONS or log settings
        relevant = {k: v for k, v in sorted(env.items()) if k in _PROFILE_VARIABLES}
        project_env = {k: os.environ.get(k, "") for k in
                       ("BOOKING_REPORT_BI_ROLE", "BOOKING_REPORT_PAGE_ROLE")}
        return json.dumps([project_files_digest(("models", "macros", "seeds", "tests/data")),
                           vars_json, relevant, project_env])

    def get(self, key: str, database: str) -> Any | None:
        found = self._parsed.get(key)
        if found is None:
            return None
        parsed_for, manifest = found
        return for_database(manifest, parsed_for, database)

    def put(self, key: str, database: str, manifest: Any) -> None:
        self._parsed[key] = (database, for_database(manifest, database, database))

    def clear(self) -> None:
        self._parsed.clear()


def for_database(manifest: Any, parsed_for: str, database: str) -> Any:
    """A copy of ``manifest`` whose relations are in ``database`` instead of
    ``parsed_for`` (the database name is quoted in every relation name)."""
    clone = manifest.deepcopy()  # dbt's own copy (copy.deepcopy breaks its lookups)
    # ... which gives a source without a freshness setting an empty one: put it back
    for unique_id, source in manifest.sources.items():
        if source.config.freshness is None:
            clone.sources[unique_id].config.freshness = None
    if parsed_for == database:
        return clone
    old, new = f'"{parsed_for}".', f'"{database}".'
    for collection in (clone.nodes, clone.sources, clone.semantic_models):
        for node in collection.values():
            target = getattr(node, "node_relation", None) or node
            if getattr(target, "database", None) == parsed_for:
                target.database = database
            name = getattr(target, "relation_name", None)
            if name and name.startswith(old):
                target.relation_name = new + name[len(old):]
    clone.build_flat_graph()  # `graph` in Jinja (the on-run-start hook reads sources)
    return clone


MANIFESTS = ManifestCache()


def run_dbt(dsn: str, args: list[str], *, target_dir: Path | None = None,
            quiet: bool = True, as_of: str | None = None,
            reuse_manifest: bool = True,
            select: Callable[[Any], list[str]] | None = None) -> Any:
    """Invoke dbt with ``args``; return dbt's ``dbtRunnerResult``. ``as_of``: the build's
    "now" (BOOKING_REPORT_AS_OF, read by the models when they run: macros/time.sql), so
    a new one costs no re-parse. Build-like commands run on a project parsed once per
    process and settings (ManifestCache). ``select``: given that project, the names of
    the models to run (``--select``; dbt's eager selection adds their data tests)."""
    from dbt.cli.main import dbtRunner

    from booking_report import dbt_log, jinja_memo

    jinja_memo.install()
    target_dir = dbt_dir(target_dir)
    env = dbt_environment(dsn)
    env["BOOKING_REPORT_AS_OF"] = as_of or ""
    paths = ["--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROFILES_DIR),
             "--target-path", str(target_dir / "target"), "--log-path", str(target_dir / "logs")]
    # quiet: dbt's own loggers off, the project's callback writes what they would keep
    # (booking_report/dbt_log.py); otherwise dbt's console shows its progress
    log_args = dbt_log.ARGS if quiet else []
    full = [*log_args, *args, *paths]
    command = next((a for a in args if not a.startswith("-")), "")
    with _DBT_LOCK:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        callbacks = [dbt_log.DbtLog(target_dir / "logs")] if quiet else []
        try:
            if not (reuse_manifest and command in _MANIFEST_COMMANDS):
                return dbtRunner(callbacks=callbacks).invoke(full)
            database = env["BOOKING_REPORT_PGDATABASE"]
            vars_args = args[args.index("--vars"):args.index("--vars") + 2] \
                if "--vars" in args else []
            key = MANIFESTS.key(vars_args, env)
            manifest = MANIFESTS.get(key, database)
            if manifest is None:
                # the parsed project is kept here, not read from target/manifest.json:
                # writing that file was 0.8 s of a scheduled refresh's fresh process
                # (dbt still writes partial_parse.msgpack, the next process's partial
                # parse)
                parsed = dbtRunner(callbacks=callbacks).invoke(
                    [*log_args, "--no-write-json", "parse", *vars_args, *paths])
                if not parsed.success:
                    return parsed
                MANIFESTS.parses += 1
                MANIFESTS.put(key, database, parsed.result)
                manifest = MANIFESTS.get(key, database)
            if select is not None:
                full = [*full, "--select", *select(manifest)]
            result = dbtRunner(manifest=manifest, callbacks=callbacks).invoke(full)
            result.manifest = manifest  # the project as this invocation saw it
            return result
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def warm_up() -> None:
    """Import dbt now (about 1.4 s), so a long-lived process's first refresh does not pay
    it; the project is parsed by the first build and kept (ManifestCache)."""
    from dbt.cli.main import dbtRunner  # noqa: F401


def _vars_arg(variables: dict[str, Any]) -> list[str]:
    return ["--vars", json.dumps(variables)] if variables else []


def summarize(result: Any, summary: BuildSummary) -> None:
    if result.exception is not None:
        summary.success = False
        summary.failures.append(f"dbt error: {result.exception}")
        return
    for node_result in getattr(result.result, "results", []) or []:
        node = node_result.node
        rtype = str(getattr(node, "resource_type", "unknown"))
        status = str(node_result.status)
        summary.counts.setdefault(rtype, {}).setdefault(status, 0)
        summary.counts[rtype][status] += 1
        label = f"{rtype} {node.name}: {node_result.message or status}"
        if status in ("error", "fail", "runtime error"):
            summary.failures.append(label)
        elif status == "warn":
            summary.warnings.append(label)
    if not result.success:
        summary.success = False


PERIOD_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def stale_sources(dsn: str, manifest: dict[str, Any]) -> list[str]:
    """The sources past their freshness thresholds, "source.table (warn)", with the
    rule of `dbt source freshness`: the age is the database's now() minus the latest
    `loaded_at_field` (an empty table is infinitely old), and a source is in error
    past `error_after`, else in warning past `warn_after`. The thresholds are read from
    dbt's manifest of the build that just ran (the sources' yml stays the one place
    they are set); one query per source, 0.02 s, instead of a second dbt invocation,
    0.56–0.71 s of every refresh even with the project parsed (docs/decisions/incremental.md)."""
    stale: list[str] = []
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
        for node in sorted(manifest.get("sources", {}).values(),
                           key=lambda n: n["unique_id"]):
            fresh = node.get("freshness") or {}
            limits = [(status, (fresh.get(key) or {})) for status, key
                      in (("error", "error_after"), ("warn", "warn_after"))]
            limits = [(status, limit["count"] * PERIOD_SECONDS[limit["period"]])
                      for status, limit in limits
                      if limit.get("count") and limit.get("period")]
            column = node.get("loaded_at_field")
            if not limits or not column:
                continue
            name = f"{node['source_name']}.{node['name']}"
            where = f" where {fresh['filter']}" if fresh.get("filter") else ""
            table = sql.Identifier(node["schema"], node["identifier"])
            try:
                age = conn.execute(sql.SQL(
                    "select extract(epoch from now() - max({})) from {}{}").format(
                        sql.SQL(column), table, sql.SQL(where))).fetchone()[0]
            except psycopg.Error as exc:
                stale.append(f"{name} (runtime error: {exc.diag.message_primary or exc})")
                continue
            status = next((status for status, seconds in limits
                           if age is None or float(age) > seconds), None)
            if status:
                stale.append(f"{name} ({status})")
    return stale


def build(dsn: str, *, variables: dict[str, Any] | None = None, full_refresh: bool = False,
          unit_tests: bool = True, target_dir: Path | None = None,
          exclude: list[str] | None = None,
          select: Callable[[Any], list[str]] | None = None) -> BuildSummary:
    """``dbt build`` (less the ``exclude``d nodes; only the models ``select`` names, given
    the parsed project, and their tests), then the sources' freshness (a warning at
    most)."""
    summary = BuildSummary(success=True)
    variables = dict(variables or {})
    # as_of changes every refresh: a var would make dbt re-parse the whole project each
    # time; the models read it when they run (macros/time.sql)
    as_of = variables.pop("as_of", None)
    # dbt's JSON artifacts: the manifest (0.45 s of every build to write, for a project
    # that was written when it was parsed) is left out; run_results.json is written
    # below (each node's status and time, for monitoring and bench/bench_scale.py)
    args = ["--no-write-json", "build", *_vars_arg(variables)]
    if full_refresh:
        args.append("--full-refresh")
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    if exclude:
        args += ["--exclude", *exclude]
    result = run_dbt(dsn, args, target_dir=target_dir, as_of=as_of, select=select)
    summarize(result, summary)
    if getattr(result.result, "write", None) is not None:
        result.result.write(str(dbt_dir(target_dir) / "target" / "run_results.json"))
    manifest = getattr(result, "manifest", None)
    if manifest is not None:
        summary.stale_sources = stale_sources(dsn, {"sources": {
            uid: source.to_dict() for uid, source in manifest.sources.items()}})
    if summary.success and summary.count("model") == 0:
        summary.success = False
        summary.failures.append("dbt build selected no models")
    return summary
