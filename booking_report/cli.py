"""``booking-report``: the command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger("booking_report")


# exit statuses: 1 the work failed (a failed build, deliveries left in the spool),
# 2 bad input or configuration, 3 the database could not be reached
EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3


class UsageError(Exception):
    """Bad input from the user: printed as ``error: …`` with exit status 2."""


def setup_logging(verbose: bool = False) -> None:
    # dbt's import calls logging.basicConfig(); configure our logger explicitly.
    logger = logging.getLogger("booking_report")
    if not any(getattr(h, "_booking_report", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler._booking_report = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


def parse_as_of(value: str | None, *, allow_future: bool = True) -> str | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--as-of {value!r} is not a timestamp; use ISO-8601 such as "
            "2026-11-23T00:00:00Z") from None
    if parsed.tzinfo is None:
        raise UsageError(f"--as-of {value!r} has no timezone; add Z or an offset like +01:00")
    if not allow_future and parsed > datetime.now(UTC) + timedelta(minutes=5):
        raise UsageError(f"--as-of {value!r} is in the future: a refresh rewrites the live "
                         "marts as if it were that time. Add --force if you mean it.")
    return parsed.isoformat()


def parse_var(item: str) -> tuple[str, Any]:
    """``name=value`` → (name, typed value): whole numbers, decimals, true/false, null."""
    from booking_report.refresh import KNOWN_VARS

    if "=" not in item:
        raise UsageError(f"--var {item!r}: expected NAME=VALUE, e.g. report_timezone=Europe/Berlin")
    name, _, text = item.partition("=")
    name, text = name.strip(), text.strip()
    if name not in KNOWN_VARS:
        raise UsageError(f"--var {name!r} is not a setting of this project; known: "
                         f"{', '.join(sorted(KNOWN_VARS))}")
    lowered = text.lower()
    value: Any
    if lowered in ("null", "none", ""):
        value = None
    elif lowered in ("true", "false"):
        value = lowered == "true"
    else:
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                value = text
    return name, value


# ---------------------------------------------------------------- commands


def cmd_init_db(args) -> int:
    from booking_report.database import resolve
    from ingest.db import init_db

    db = resolve()
    applied = init_db(db.dsn)
    print(f"raw schema ready ({'applied ' + ', '.join(applied) if applied else 'up to date'})")
    return 0


def cmd_serve(args) -> int:
    from booking_report.database import resolve
    from booking_report.server import run_server

    # no migrations here: the receiver may run as a role that can only insert, and it
    # must start (and spool) while the database is down
    db = resolve()
    try:
        run_server(db, host=args.host, port=args.port, threads=args.threads,
                   allow_unsigned=args.allow_unsigned, insecure_cookies=args.insecure_cookies,
                   per_client=_env_number("BOOKING_REPORT_MAX_CONNECTIONS_PER_CLIENT", 50),
                   request_seconds=_env_number("BOOKING_REPORT_REQUEST_SECONDS", 15))
    except ValueError as exc:  # unsafe login / cookie configuration
        raise UsageError(str(exc)) from None
    return 0


def _env_number(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{name} must be a whole number, not {text!r}") from None
    if value <= 0:
        raise UsageError(f"{name} must be positive, not {value}")
    return value


def cmd_hash_password(args) -> int:
    import getpass

    from webauth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if password != getpass.getpass("again: "):
            raise UsageError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        raise UsageError("use a password of at least 8 characters")
    print(hash_password(password))
    return 0


def cmd_import_events(args) -> int:
    from booking_report.database import resolve
    from ingest.db import init_db
    from ingest.importer import Progress, import_events

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{path}: no such file (expected JSON lines, one Cal.com body per line)")
    db = resolve()
    init_db(db.dsn)
    bar: Progress | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        bar = bar or Progress(total, "importing")
        bar.update(done)

    summary = import_events(db.dsn, path, progress=progress)
    for number, reason in summary.malformed:
        print(f"{path}:{number}: skipped: {reason}", file=sys.stderr)
    print(f"imported {summary.lines} lines: {summary.stored} stored, "
          f"{summary.duplicates} duplicates, {len(summary.malformed)} malformed (skipped)")
    if summary.stored + summary.duplicates == 0:
        print(f"error: {path} has no valid Cal.com body. import-events reads JSON lines: one "
              "whole webhook body per line (a CSV, a JSON array or a pretty-printed file is "
              "not that; `jq -c '.[]' file.json` turns an array into lines)", file=sys.stderr)
        return EXIT_FAILED
    if summary.malformed:
        print(f"error: {len(summary.malformed)} lines skipped (listed above); every other "
              "line is stored, and running import-events again stores nothing twice",
              file=sys.stderr)
        return EXIT_FAILED
    return 0


def cmd_load_crm(args) -> int:

    from booking_report.database import resolve
    from ingest.crm import (
        CrmInputError,
        csv_source,
        load_snapshot,
        parse_mapping,
        table_source,
        zone,
    )
    from ingest.db import connect, init_db

    if bool(args.file) == bool(args.table):
        raise UsageError("give either a CSV FILE or --table SCHEMA.TABLE (exactly one)")
    try:
        mapping = parse_mapping(args.map)
        tz = zone(args.timezone)
        if args.file and not Path(args.file).is_file():
            raise UsageError(f"{args.file}: no such file")
        db = resolve()
        init_db(db.dsn)
        with connect(db.dsn) as conn:
            # streamed through COPY: constant memory whatever the export's size
            if args.file:
                source = csv_source(Path(args.file))
                name = Path(args.file).name
            else:
                source = table_source(conn, args.table)
                name = args.table
            result, unused = load_snapshot(conn, source, mapping=mapping, tz=tz,
                                           source_name=name)
    except CrmInputError as exc:
        raise UsageError(f"{exc} (nothing was written)") from None
    print(f"CRM snapshot {result.snapshot_id} at {result.snapshot_at:%Y-%m-%d %H:%M:%S%z}: "
          f"{result.rows} leads from {name}")
    if result.oversized_rows:
        shown = "; ".join(f"row {line}: {', '.join(fields)}"
                          for line, fields in result.oversized_examples)
        print(f"warning: {result.oversized_rows} rows hold a value too long to be a key "
              f"({shown}{' …' if result.oversized_rows > len(result.oversized_examples) else ''}"
              "): they are stored as received and the next refresh lists them in the feed "
              "problems instead of counting them", file=sys.stderr)
    if unused:
        print(f"note: {len(unused)} column{'s' if len(unused) != 1 else ''} matched no known "
              f"field and are kept only in the raw row: {', '.join(unused)} (known fields: "
              "lead_id, created_at, email, name, source, status, booking_status, "
              "booking_uid, booked_at, invited_at, reminder_sent_at, updated_at; map one "
              "with --map FIELD=Header)")
    return 0


def cmd_refresh(args) -> int:
    from booking_report import sync as calsync
    from booking_report.database import resolve
    from booking_report.refresh import RefreshBusy, RefreshConfigError, print_summary, refresh
    from ingest.calcom_api import CalcomApiError
    from ingest.calcom_sync import SyncFailed

    as_of = parse_as_of(args.as_of, allow_future=args.force)
    variables = dict(parse_var(item) for item in args.var or [])
    db = resolve()
    if calsync.configured() and not args.no_sync:
        variables.setdefault("api_sync_configured", True)
        last = calsync.last_success(db.dsn) if args.sync_if_older is not None else None
        if last and datetime.now(UTC) - last < timedelta(minutes=args.sync_if_older):
            print(f"Cal.com sync skipped: the last one finished at"
                  f" {last.astimezone(UTC):%H:%M} UTC, less than {args.sync_if_older:g}"
                  f" minutes ago")
        else:
            try:
                print(calsync.summary_line(calsync.run_sync(db.dsn)))
            except (CalcomApiError, SyncFailed, calsync.SyncNotConfigured) as exc:
                # the marts are still rebuilt from what is there; feed health says when
                # the last sync succeeded
                print(f"warning: the Cal.com sync failed, refreshing without it: {exc}",
                      file=sys.stderr)
    try:
        outcome = refresh(db.dsn, as_of=as_of, full_refresh=args.full_refresh,
                          variables=variables, wait=not args.no_wait,
                          unit_tests=args.unit_tests, only_changed=args.only_changed)
    except RefreshBusy:
        print("a refresh is already running; not starting another")
        return 0
    except RefreshConfigError as exc:
        raise UsageError(str(exc)) from None
    print_summary(outcome)
    return 0 if outcome.build.success else EXIT_FAILED


# "Refresh now" skips the Cal.com sync when one succeeded this recently: webhooks bring
# what happens meanwhile, and the scheduled refresh syncs every time
RECENT_SYNC_MINUTES = 10


def cmd_refresh_worker(args) -> int:
    """Refreshes on request, for the page's "Refresh now": each line on stdin starts one
    (as `refresh --no-wait` would), answered with one JSON line on stdout when it is done.
    dbt stays imported and the project parsed between requests, and each refresh runs
    only the models whose result can change (docs/decisions/page.md; still about 4–5 s
    on this project's 2-core machine, most of it dbt's cost per node). Ends at the end
    of stdin (the page went away) or after --idle-seconds without a request. Summaries
    go to stderr."""
    import json
    import select
    import time

    from booking_report.transform import MANIFESTS, warm_up

    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # whatever prints goes to the log
    warm_up()
    request = argparse.Namespace(as_of=None, force=False, var=None, full_refresh=False,
                                 unit_tests=False, no_sync=False, no_wait=True,
                                 only_changed=True, sync_if_older=RECENT_SYNC_MINUTES)
    while True:
        readable, _, _ = select.select([sys.stdin], [], [], args.idle_seconds)
        if not readable:
            print(f"refresh worker: idle for {args.idle_seconds:g} s, ending", file=sys.stderr)
            return 0
        if not sys.stdin.readline():
            return 0
        started = time.monotonic()
        try:
            status = run_command(cmd_refresh, request)
        except Exception as exc:  # noqa: BLE001 - one failed refresh must not end the worker
            log.exception("refresh failed")
            status, error = EXIT_FAILED, str(exc)
        else:
            error = None
        sys.stdout.flush()
        seconds = round(time.monotonic() - started, 3)
        print(f"refresh worker: answered in {seconds:.2f} s (exit status {status})",
              file=sys.stderr, flush=True)
        protocol.write(json.dumps({"status": status, "error": error, "seconds": seconds,
                                   "parses": MANIFESTS.parses}) + "\n")


def cmd_sync_calcom(args) -> int:
    from booking_report import sync as calsync
    from booking_report.database import resolve
    from ingest.calcom_api import CalcomApiError, UnsupportedVersion
    from ingest.calcom_sync import SyncFailed
    from ingest.db import init_db

    try:
        since = calsync.since_date(args.since)
        try:
            api = calsync.api_from_env()
        except UnsupportedVersion as exc:
            raise UsageError(str(exc)) from None
        db = resolve()
        init_db(db.dsn)
        summary = calsync.run_sync(db.dsn, since=since, full=args.full, api=api)
    except calsync.SyncNotConfigured as exc:
        raise UsageError(str(exc)) from None
    except (CalcomApiError, SyncFailed) as exc:
        print(f"error: {exc} (nothing moved: the next run reads the same bookings again)",
              file=sys.stderr)
        return EXIT_FAILED
    print(calsync.summary_line(summary))
    print("run `booking-report refresh` to rebuild the numbers with what was recovered")
    return 0


def cmd_metrics(args) -> int:
    from booking_report import semantic
    from booking_report.database import resolve

    def items(values: list[str] | None) -> list[str]:
        return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]

    metrics = items(args.metrics)
    if not metrics:
        raise UsageError("name at least one metric, e.g. --metrics no_show_rate "
                         "(`booking-report metrics --list` shows them)")
    db = resolve(quiet=True)
    result = semantic.query(db.dsn, metrics, items(args.group_by), where=args.where,
                            order=items(args.order), limit=args.limit,
                            csv=Path(args.csv) if args.csv else None, decimals=args.decimals,
                            explain=args.explain)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        return EXIT_FAILED
    return 0


def cmd_db_url(args) -> int:
    """Print a libpq URL for psql or a BI tool; an embedded server stays up while this
    runs (it stops when the last process holding it exits)."""
    import signal

    from booking_report.database import resolve

    db = resolve(quiet=True)
    print(db.dsn if "://" in db.dsn else _as_url(db.dsn), flush=True)
    if db.embedded and not args.no_wait:
        print("the embedded Postgres stays up while this command runs; press Ctrl-C to stop "
              "(it listens on the Unix socket in the URL only)", file=sys.stderr, flush=True)

        def stop(signum, frame):  # `kill`, a service manager: stop the server too
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


def _as_url(dsn: str) -> str:
    from urllib.parse import quote

    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    user = quote(str(params.pop("user", "") or ""))
    password = params.pop("password", None)
    host = str(params.pop("host", "") or "")
    port = params.pop("port", None)
    dbname = quote(str(params.pop("dbname", "") or ""))
    auth = user + (f":{quote(str(password))}" if password else "") + ("@" if user else "")
    if host.startswith("/"):
        params["host"] = host
        host = ""
    where = host + (f":{port}" if port and host else "")
    if port and not host:
        params["port"] = port
    query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items() if v is not None)
    return f"postgresql://{auth}{where}/{dbname}" + (f"?{query}" if query else "")


def cmd_docs(args) -> int:
    """dbt docs generate + serve on localhost: every model, column and test, lineage."""
    from booking_report.database import data_dir, resolve
    from booking_report.transform import run_dbt

    db = resolve()
    target = data_dir() / "dbt-docs"
    generated = run_dbt(db.dsn, ["docs", "generate"], target_dir=target)
    if not generated.success:
        print(f"error: dbt docs generate failed: {generated.exception or 'see the dbt log'}",
              file=sys.stderr)
        return EXIT_FAILED
    print(f"dbt docs on http://127.0.0.1:{args.port} (Ctrl-C to stop)", flush=True)
    served = run_dbt(db.dsn, ["docs", "serve", "--port", str(args.port), "--host", "127.0.0.1",
                              "--no-browser"], target_dir=target, quiet=False)
    return 0 if served.success else EXIT_FAILED


def cmd_digest(args) -> int:
    """Last week's read by email (and Slack), built from the marts; sent once per week,
    source, channel and recipient unless --force (booking_report/digest.py)."""
    from booking_report.digest import DigestRequest, run_digest

    return run_digest(DigestRequest(
        recipients=[r.strip() for item in (args.to or [os.environ.get(
            "BOOKING_REPORT_DIGEST_TO", "")]) for r in item.split(",") if r.strip()],
        slack=args.slack, slack_names=args.slack_names, week=args.week, source=args.source,
        dry_run=args.dry_run, force=args.force))


def cmd_report(args) -> int:
    from booking_report.database import resolve
    from report.data import ReportError, load_report
    from report.terminal import render

    db = resolve(quiet=args.format != "text")
    try:
        data = load_report(db.dsn, week=args.week, source=args.source)
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    sys.stdout.write(render(data, args.format))
    return 0


def cmd_demo(args) -> int:
    from booking_report.demo.run import run_demo

    as_of = parse_as_of(args.as_of)
    return run_demo(seed=args.seed, leads=args.leads, weeks=args.weeks, as_of=as_of,
                    webhook_loss=args.webhook_loss)


def cmd_drain_spool(args) -> int:
    from booking_report.database import resolve
    from ingest.db import connect
    from ingest.durable import apply_store_settings
    from ingest.spool import UNREADABLE, drain, reason, unreadable

    db = resolve()
    spool_dir = Path(os.environ.get("BOOKING_REPORT_SPOOL_DIR", ".data/spool"))
    connect(db.dsn, connect_timeout=10).close()  # unreachable: one clear line
    result = drain(spool_dir, db.dsn, connect_kwargs={"connect_timeout": 10},
                   settings=apply_store_settings)
    aside = unreadable(spool_dir)
    print(f"drained {result.drained} spooled deliveries from {spool_dir}; {result.left} "
          f"left, {len(aside)} set aside (unreadable or refused) in {spool_dir / UNREADABLE}")
    for path in aside:
        print(f"  {path.name}: {reason(path)}")
    if result.left:
        print("error: the database did not answer; what is left stays in the spool (run "
              "drain-spool again, or let `serve` drain it)", file=sys.stderr)
    if aside:
        print(f"error: {len(aside)} spool files could not be stored; they are listed above "
              f"with their reason and kept in {spool_dir / UNREADABLE} (never retried)",
              file=sys.stderr)
    return 1 if result.left or aside else 0


# ---------------------------------------------------------------- parser


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="booking-report",
        description="Booking & No-Show Status Report. Uses DATABASE_URL, or an embedded "
                    "Postgres in .data/pg when it is unset.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--database", metavar="NAME",
                        help="another database on the same server (e.g. booking_report_demo "
                             "after `demo`); also BOOKING_REPORT_DATABASE")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init-db", help="create or upgrade the raw schema (idempotent)")
    p.set_defaults(func=cmd_init_db)

    p = sub.add_parser("serve", help="run the webhook receiver and report page")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=positive_int, default=8000)
    p.add_argument("--threads", type=positive_int, default=8,
                   help="request threads (slow or idle clients never hold one)")
    p.add_argument("--allow-unsigned", action="store_true",
                   help="DEVELOPMENT ONLY: accept deliveries without a valid signature")
    p.add_argument("--insecure-cookies", action="store_true",
                   help="allow the login cookie over plain http beyond localhost "
                        "(a trusted network only; otherwise put TLS in front)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("hash-password", help="hash a password for BOOKING_REPORT_PASSWORD_HASH")
    p.set_defaults(func=cmd_hash_password)

    p = sub.add_parser("import-events", help="bulk-load historical deliveries (JSON lines)")
    p.add_argument("file", help="a file with one raw Cal.com webhook body per line")
    p.set_defaults(func=cmd_import_events)

    p = sub.add_parser("load-crm", help="load one CRM snapshot from a CSV or a table")
    p.add_argument("file", nargs="?", help="CSV export (UTF-8, header row)")
    p.add_argument("--table", help="SCHEMA.TABLE in the same database, e.g. public.leads")
    p.add_argument("--map", action="append", metavar="COLUMN=Header",
                   help="read a known column from another header; repeatable")
    p.add_argument("--timezone", default=os.environ.get("BOOKING_REPORT_CRM_TIMEZONE", "UTC"),
                   help="zone for timestamps without one (default UTC)")
    p.set_defaults(func=cmd_load_crm)

    p = sub.add_parser("refresh", help="dbt build and the sources' freshness, then a summary")
    p.add_argument("--as-of", help="the 'now' of every model (ISO-8601 with zone)")
    p.add_argument("--force", action="store_true", help="allow an --as-of in the future")
    p.add_argument("--var", action="append", metavar="NAME=VALUE",
                   help="a metric setting, e.g. report_timezone=Europe/Berlin or "
                        "review_after_hours=48; repeatable (BOOKING_REPORT_TIMEZONE sets "
                        "the timezone for every refresh)")
    p.add_argument("--full-refresh", action="store_true")
    p.add_argument("--unit-tests", action="store_true",
                   help="also run dbt's unit tests (CI does; a production refresh need not)")
    p.add_argument("--no-sync", action="store_true",
                   help="skip the Cal.com API sync that runs first when CALCOM_API_KEY is set")
    p.add_argument("--no-wait", action="store_true",
                   help="exit at once if another refresh is running (default: wait for it)")
    p.add_argument("--sync-if-older", type=float, metavar="MINUTES",
                   help="skip the Cal.com sync when one succeeded less than MINUTES ago "
                        "(\"Refresh now\" uses 10)")
    p.add_argument("--only-changed", action="store_true",
                   help="run only the models whose result can change, and their data tests "
                        "(\"Refresh now\" does; default: every model and data test)")
    p.set_defaults(func=cmd_refresh)

    p = sub.add_parser("refresh-worker",
                       help="refreshes on request from stdin, dbt kept loaded (the page's "
                            "\"Refresh now\" starts one)")
    p.add_argument("--idle-seconds", type=float, default=900,
                   help="end after this long without a request (default 900)")
    p.set_defaults(func=cmd_refresh_worker)

    p = sub.add_parser("sync-calcom", help="read bookings from Cal.com's API v2 (GET only) to "
                                          "repair what webhooks missed")
    p.add_argument("--since", metavar="YYYY-MM-DD",
                   help="start of the first backfill (default: 90 days ago)")
    p.add_argument("--full", action="store_true", help="read every booking again")
    p.set_defaults(func=cmd_sync_calcom)

    p = sub.add_parser(
        "metrics", help="query the semantic layer (MetricFlow) at any grain",
        description="Every headline metric, defined once in models/marts/reporting/metrics.yml. "
                    "Example: booking-report metrics --metrics no_show_rate --group-by "
                    "metric_time__month,booking__host_key")
    p.add_argument("--metrics", action="append", metavar="M[,M…]",
                   help="e.g. no_show_rate,book_rate,bookings_made (repeatable)")
    p.add_argument("--group-by", action="append", metavar="D[,D…]",
                   help="e.g. metric_time__week, metric_time__month, booking__host_key, "
                        "booking__event_type, booking__lead_source, lead__lead_source")
    p.add_argument("--where", action="append",
                   help="a MetricFlow filter, e.g. \"{{ Dimension('booking__event_type') }} = "
                        "'intro-call'\"")
    p.add_argument("--order", action="append", help="e.g. -metric_time")
    p.add_argument("--limit", type=positive_int)
    p.add_argument("--csv", metavar="FILE", help="write the result as CSV")
    p.add_argument("--decimals", type=int, default=4)
    p.add_argument("--explain", action="store_true", help="show the SQL instead of results")
    p.set_defaults(func=cmd_metrics)

    p = sub.add_parser("db-url", help="print a connection URL for psql or a BI tool (an "
                                      "embedded server stays up while it runs)")
    p.add_argument("--no-wait", action="store_true",
                   help="print and exit, even for the embedded server (which then stops)")
    p.set_defaults(func=cmd_db_url)

    p = sub.add_parser("docs", help="dbt docs generate + serve on 127.0.0.1")
    p.add_argument("--port", type=positive_int, default=8080)
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("digest", help="send last week's read by email (and Slack)")
    p.add_argument("--week", help="ISO week such as 2026-W47 (default: the last complete week)")
    p.add_argument("--source", help="one lead source (default: all)")
    p.add_argument("--to", action="append", metavar="a@x,b@y",
                   help="recipients (default: BOOKING_REPORT_DIGEST_TO)")
    p.add_argument("--slack", action="store_true",
                   help="also post to BOOKING_REPORT_SLACK_WEBHOOK_URL")
    p.add_argument("--slack-names", action="store_true",
                   help="name the people to follow up in Slack too (off: channels are wider "
                        "audiences)")
    p.add_argument("--dry-run", nargs="?", const=True, metavar="FOLDER",
                   help="write the .eml, the HTML and the Slack JSON to FOLDER (default "
                        ".data/digest) instead of sending")
    p.add_argument("--force", action="store_true",
                   help="send even if this week's digest was already sent to a recipient")
    p.set_defaults(func=cmd_digest)

    p = sub.add_parser("report", help="print the weekly status report")
    p.add_argument("--week", help="ISO week such as 2026-W47 (default: last complete week)")
    p.add_argument("--source", help="one lead source (default: all)")
    p.add_argument("--format", choices=["text", "json", "csv"], default="text")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="the whole pipeline on realistic demo data, then the report")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--leads", type=positive_int, default=360)
    p.add_argument("--weeks", type=positive_int, default=10)
    p.add_argument("--as-of", help="the demo's 'now' (default: the current time)")
    p.add_argument("--webhook-loss", type=float, default=0.15, metavar="SHARE",
                   help="share of bookings that lose one more webhook on purpose, repaired "
                        "by the sync from the Cal.com stand-in (default 0.15)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("drain-spool", help="store deliveries spooled while the DB was down")
    p.set_defaults(func=cmd_drain_spool)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    if args.database:
        os.environ["BOOKING_REPORT_DATABASE"] = args.database
    try:
        return run_command(args.func, args)
    except KeyboardInterrupt:
        return 130


def run_command(func, args) -> int:
    """A command's exit status; its expected errors as one line on stderr."""
    import psycopg

    from booking_report.database import DatabaseError, unreachable_message
    from booking_report.digest import DigestUsageError
    from ingest.app import ConfigError

    try:
        return func(args)
    except (UsageError, DatabaseError, ConfigError, DigestUsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except psycopg.OperationalError as exc:
        print(f"error: {unreachable_message(exc)}", file=sys.stderr)
        return EXIT_UNREACHABLE


if __name__ == "__main__":
    sys.exit(main())
