"""Compose the web app (receiver + report page) and run it under waitress."""

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
    idle = env.get("BOOKING_REPORT_REFRESH_WORKER_IDLE_SECONDS", "").strip()
    if idle:
        try:
            cfg["REFRESH_WORKER_IDLE_SECONDS"] = float(idle)
        except ValueError:
            from ingest.app import ConfigError

            raise ConfigError("BOOKING_REPORT_REFRESH_WORKER_IDLE_SECONDS must be a number "
                             f"of seconds, not {idle!r}") from None
    if flag("BOOKING_REPORT_REQUIRE_LOGIN"):
        cfg["REQUIRE_LOGIN"] = True
    if flag("BOOKING_REPORT_ALLOW_INSECURE_COOKIES"):
        cfg["ALLOW_INSECURE_COOKIES"] = True
    return cfg


def create_server_app(test_config: dict[str, Any] | None = None):
    """The receiver's app (webhooks, review confirmations, login) plus the report page.

    ``ingest`` and ``report`` never import each other; this module joins them.
    """
    from booking_report import locks
    from ingest.app import create_app
    from report.web import register as register_report

    app = create_app({**web_config_from_env(), **(test_config or {})})
    register_report(app, refresh_lock_key=locks.REFRESH)
    return app


def _raise_open_files_limit() -> None:
    """Many idle or slow connections each hold a file descriptor: use the hard limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def run_server(db: Database, *, host: str, port: int, threads: int = 8,
               connection_limit: int = 1000, allow_unsigned: bool = False,
               insecure_cookies: bool = False, per_client: int = 50,
               request_seconds: float = 15.0, grace_seconds: float = 20.0) -> None:
    """Serve with waitress (booking_report/serving.py). Its async loop reads every
    request completely (headers and body) before a worker thread sees it, so clients
    that send slowly or not at all hold a socket, never one of the threads that store
    deliveries; one client holds at most ``per_client`` sockets, and a request must
    arrive whole within ``request_seconds``. SIGTERM (and Ctrl-C) stop accepting and
    finish the requests in hand, up to ``grace_seconds``.
    """
    import signal
    import threading

    from booking_report.serving import create_guarded_server, serve_until_stopped
    from ingest.db import describe_schema

    os.environ["DATABASE_URL"] = db.dsn  # for processes the page starts (refresh now)
    overrides: dict[str, Any] = {"DATABASE_URL": db.dsn, "BIND_HOST": host}
    if insecure_cookies:
        overrides["ALLOW_INSECURE_COOKIES"] = True
    if allow_unsigned:
        overrides["ALLOW_UNSIGNED_WEBHOOKS"] = True
    app = create_server_app(overrides)  # validates the configuration before binding
    _raise_open_files_limit()
    cap = int(app.config["MAX_BODY_BYTES"])
    # Behind a TLS reverse proxy every request comes from the proxy: name it, and the
    # client's address is taken from its X-Forwarded-For (for the login throttle and
    # the refusal records); from anyone else those headers are dropped. The proxy is
    # exempt from the per-client cap (it speaks for many clients).
    proxy = os.environ.get("BOOKING_REPORT_TRUSTED_PROXY", "").strip() or None
    proxy_options: dict[str, Any] = {}
    if proxy:
        proxy_options = {"trusted_proxy": proxy, "trusted_proxy_count": 1,
                         "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"}}
    server = create_guarded_server(
        app, host=host, port=port, threads=threads, per_client=per_client,
        request_seconds=request_seconds, exempt={proxy} if proxy else set(),
        ident="booking-report", connection_limit=connection_limit, backlog=2048,
        asyncore_use_poll=True,
        # an idle connection is closed after 20 s; bodies far over our cap are
        # refused by waitress itself (ours, slightly over, are recorded by the app)
        channel_timeout=20, cleanup_interval=2, max_request_body_size=4 * cap,
        clear_untrusted_proxy_headers=True, **proxy_options)

    stopping = threading.Event()

    def stop(signum, frame):
        stopping.set()
        server.pull_trigger()  # wake the loop now, not at its next poll timeout

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # The embedded Postgres (if any) is held by this process: `db.handle`.
    print(f"serving on http://{host}:{port}  (POST /webhooks/calcom, GET /report, "
          "GET /healthz)", flush=True)
    print(f"database: {describe_schema(db.dsn)}", flush=True)
    try:
        serve_until_stopped(server, stopping, grace_seconds=grace_seconds)
    finally:
        app.extensions["delivery_store"].close()
