"""`booking-report metrics`: the semantic layer (dbt-metricflow) on the project's own
profile, so nobody has to copy a profile or remember where the manifest lives.

MetricFlow's CLI reads `target/semantic_manifest.json` in the project folder, so the
project is parsed into its own `target/` first; `mf` then runs there with the same
connection variables and a session pinned to UTC (the time dimensions are report-
timezone dates, so weeks and months come out right in any session zone).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from booking_report.transform import (
    PROFILES_DIR,
    PROJECT_DIR,
    TransformError,
    dbt_environment,
    run_dbt,
)


def mf_executable() -> str:
    candidate = Path(sys.executable).with_name("mf")
    return str(candidate) if candidate.exists() else "mf"


def parse_project(dsn: str) -> None:
    result = run_dbt(dsn, ["parse"], target_dir=PROJECT_DIR)
    if not result.success:
        raise TransformError(f"dbt parse failed: {result.exception}")


def query(dsn: str, metrics: list[str], group_by: list[str], *, where: list[str] | None = None,
          order: list[str] | None = None, limit: int | None = None, csv: Path | None = None,
          decimals: int | None = None, explain: bool = False, parse: bool = True,
          session_timezone: str = "UTC") -> subprocess.CompletedProcess:
    if parse:
        parse_project(dsn)
    args = [mf_executable(), "query", "--metrics", ",".join(metrics)]
    if group_by:
        args += ["--group-by", ",".join(group_by)]
    for clause in where or []:
        args += ["--where", clause]
    if order:
        args += ["--order", ",".join(order)]
    if limit is not None:
        args += ["--limit", str(limit)]
    if csv is not None:
        args += ["--csv", str(csv)]
    if decimals is not None:
        args += ["--decimals", str(decimals)]
    if explain:
        args.append("--explain")
    env = dict(os.environ, **dbt_environment(dsn), DBT_PROFILES_DIR=str(PROFILES_DIR))
    env["PGTZ"] = session_timezone
    return subprocess.run(args, cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=600)
