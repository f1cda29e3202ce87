"""Compose the web app (receiver + report page) and run it under gunicorn."""

from __future__ import annotations

import os
from typing import Any

from booking_report.database import Database


def web_config_from_env(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Login, cookie and page settings from BOOKING_REPORT_* variables."""
    env = os.environ if environ is None else environ
    flag = lambda name: env.get(name, "").lower() in ("1", "true", "yes")  # noqa: E731
    cfg: dict[str, Any] = {}
    for key, name in [("REPORT_USER", "BOOKING_REPORT_USER"),
                      ("REPORT_PASSWORD_HASH", "BOOKING_REPORT_PASSWORD_HASH"),
                      ("SECRET_KEY", "BOOKING_REPORT_SECRET_KEY"),
                      ("REPORT_DATABASE_URL", "BOOKING_REPORT_REPORT_DATABASE_URL"),
                      ("DATA_DIR", "BOOKING_REPORT_DATA_DIR"),
                      ("REPORTING_SCHEMA", "BOOKING_REPORT_REPORTING_SCHEMA"),
                      ("REPORTING_PRIVATE_SCHEMA", "BOOKING_REPORT_REPORTING_PRIVATE_SCHEMA")]:
        if env.get(name):
            cfg[key] = env[name]
    if flag("BOOKING_REPORT_REQUIRE_LOGIN"):
        cfg["REQUIRE_LOGIN"] = True
    if flag("BOOKING_REPORT_ALLOW_INSECURE_COOKIES"):
        cfg["ALLOW_INSECURE_COOKIES"] = True
    return cfg


def create_server_app(test_config: dict[str, Any] | None = None):
    """The receiver's app (webhooks, review confirmations, login) plus the report page.

    ``ingest`` and ``report`` never import each other; this module joins them.
    """
    from ingest.app import create_app
    from report.web import register as register_report

    app = create_app({**web_config_from_env(), **(test_config or {})})
    register_report(app)
    return app


def run_gunicorn(db: Database, *, host: str, port: int, workers: int,
                 allow_unsigned: bool = False, insecure_cookies: bool = False) -> None:
    from gunicorn.app.base import BaseApplication

    os.environ["DATABASE_URL"] = db.dsn  # for processes the page starts (refresh now)
    overrides: dict[str, Any] = {"DATABASE_URL": db.dsn, "BIND_HOST": host}
    if insecure_cookies:
        overrides["ALLOW_INSECURE_COOKIES"] = True
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
