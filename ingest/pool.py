"""One psycopg connection pool per process for the receiver's blueprints."""

from __future__ import annotations

import os

from flask import current_app
from psycopg_pool import ConnectionPool


def get_pool() -> ConnectionPool:
    """One pool per process, opened lazily (safe with gunicorn's forking workers)."""
    ext = current_app.extensions
    pool = ext.get("booking_report_pool")
    if pool is None or pool.closed or ext.get("booking_report_pool_pid") != os.getpid():
        pool = ConnectionPool(
            current_app.config["DATABASE_URL"], min_size=0, max_size=4, open=True,
            timeout=2.0, kwargs={"connect_timeout": 2},
        )
        ext["booking_report_pool"] = pool
        ext["booking_report_pool_pid"] = os.getpid()
    return pool
