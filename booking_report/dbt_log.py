"""dbt's log of the project's own invocations, written from dbt's events.

dbt's two loggers, the console and ``logs/dbt.log``, format a line for every event
before their level drops it (debug events included, at any level), and scrub each
line against every environment variable: about a tenth of the refresh worker's CPU on
an hour with nothing new (py-spy, docs/decisions/incremental.md, "Round 5"). The
project's quiet invocations turn both off (``--log-level none --log-level-file none``)
and pass ``DbtLog`` as dbt's event callback instead, which reads the level first and
writes what the two loggers kept:

- ``logs/dbt.log``: the events at ``DBT_LOG_LEVEL_FILE`` (default ``info``: each node's
  start, result and time, and every error) and above, in dbt's debug-line format,
  rotated as dbt rotates it (10 MB, five old files); ``debug`` adds every statement;
- the console: what ``--quiet`` prints, errors and ``print()`` lines.

Secrets (``DBT_ENV_SECRET_*``) are replaced by ``*****`` in both, as dbt does.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

LEVELS = {"debug": 10, "test": 10, "info": 20, "warn": 30, "error": 40}
MAX_BYTES = 10 * 1024 * 1024  # dbt's --log-file-max-bytes default
# the arguments that turn dbt's own loggers off
ARGS = ["--log-level", "none", "--log-level-file", "none"]

_files: dict[Path, logging.Logger] = {}
_files_lock = threading.Lock()


def _file_logger(path: Path) -> logging.Logger:
    """One rotating handler per log file for the whole process."""
    with _files_lock:
        logger = _files.get(path)
        if logger is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            logger = logging.Logger(f"booking_report.dbt_log:{path}")  # not in the tree
            handler = RotatingFileHandler(path, encoding="utf8", maxBytes=MAX_BYTES,
                                          backupCount=5)
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(handler)
            _files[path] = logger
        return logger


class DbtLog:
    """dbt's event callback for one invocation: ``log_dir``/dbt.log at
    ``DBT_LOG_LEVEL_FILE``, and the errors on stdout."""

    def __init__(self, log_dir: Path) -> None:
        level = (os.environ.get("DBT_LOG_LEVEL_FILE") or "info").lower()
        self.file_level = LEVELS.get(level, LEVELS["info"]) if level != "none" else None
        self.file = _file_logger(Path(log_dir) / "dbt.log") \
            if self.file_level is not None else None
        self.secrets = [value for key, value in os.environ.items()
                        if key.startswith("DBT_ENV_SECRET_") and value.strip()]

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "*****")
        return text

    def __call__(self, msg: Any) -> None:
        info = msg.info
        level = LEVELS.get(info.level, LEVELS["info"])
        printed = info.name == "PrintEvent"
        if self.file is not None and level >= self.file_level and not _cache_event(info):
            now = datetime.now()
            thread = threading.current_thread().name[:10].ljust(10)
            line = f"{now:%H:%M:%S.%f} [{info.level:<5}] [{thread}]: {self.scrub(info.msg)}"
            if info.name == "MainReportVersion":  # an invocation starts
                bar = 30 * "="
                line = f"\n\n{bar} {now:%H:%M:%S.%f} | {info.invocation_id} {bar}\n{line}"
            self.file.info(line)
        if level >= LEVELS["error"] or printed:
            text = self.scrub(info.msg)
            print(text if printed else f"{datetime.now(UTC):%H:%M:%S}  {text}",
                  file=sys.stdout, flush=True)


def _cache_event(info: Any) -> bool:
    """dbt's relation-cache events, which its loggers leave out too."""
    return info.name in ("CacheAction", "CacheDumpGraph")
