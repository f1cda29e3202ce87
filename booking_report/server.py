"""Compose the web app (receiver + report page) and run it under gunicorn."""

from __future__ import annotations

import logging
import os
from typing import Any

from booking_report.database import Database

log = logging.getLogger("booking_report.server")


def create_server_app(test_config: dict[str, Any] | None = None):
    """The receiver's app with the report blueprint mounted beside it.

    ``ingest`` and ``report`` never import each other; this module joins them.
    """
    from ingest.app import create_app

    app = create_app(test_config)
    try:
        from report.web import register as register_report
    except ImportError:  # the report package is optional for a receiver-only deploy
        log.info("report page not installed; serving the receiver only")
    else:
        register_report(app)
    return app


def run_gunicorn(db: Database, *, host: str, port: int, workers: int,
                 allow_unsigned: bool = False) -> None:
    from gunicorn.app.base import BaseApplication

    os.environ["DATABASE_URL"] = db.dsn  # workers read it through the app factory
    overrides: dict[str, Any] = {"DATABASE_URL": db.dsn}
    if allow_unsigned:
        overrides["ALLOW_UNSIGNED_WEBHOOKS"] = True
    app = create_server_app(overrides)  # validates the configuration before binding

    class _App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", None)
            self.cfg.set("timeout", 30)
            self.cfg.set("graceful_timeout", 10)

        def load(self):
            return app

    # The embedded Postgres (if any) is held by this master process: `db.handle`.
    print(f"serving on http://{host}:{port}  (POST /webhooks/calcom, GET /report, "
          "GET /healthz)", flush=True)
    _App().run()
