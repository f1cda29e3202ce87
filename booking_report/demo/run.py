"""`booking-report demo`: the whole pipeline on realistic generated data.

A dedicated database (``booking_report_demo``, recreated each run) on the configured
server or the embedded Postgres; the real receiver (waitress); every Cal.com
event sent as a signed HTTP POST, except a share lost on purpose; the CRM export
loaded as a CSV; a sync from a local stand-in for Cal.com's API serving the same
truth, which repairs what the lost webhooks missed; a refresh; the weekly report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from booking_report.database import DatabaseError, data_dir, resolve
from booking_report.demo.landing import crm_csv_text, load_manual_outcomes, post_bodies
from booking_report.demo.scenario import generate
from booking_report.demo.standin import StandinServer, create_standin
from booking_report.refresh import print_summary, refresh
from booking_report.sync import run_sync, summary_line
from devtools.net import free_port, wait_healthy
from ingest.calcom_api import CalcomApi
from ingest.crm import read_csv, write_snapshot, zone
from ingest.db import connect, init_db
from ingest.importer import Progress

DEMO_DB = "booking_report_demo"
DEMO_SECRET = "demo-webhook-secret"
DEMO_API_KEY = "cal_demo_standin_key"


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def demo_database(server_dsn: str) -> str:
    params = conninfo_to_dict(server_dsn)
    admin = make_conninfo(server_dsn, dbname=params.get("dbname") or "postgres")
    try:
        with connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(DEMO_DB)))
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(DEMO_DB)))
    except psycopg.Error as exc:
        raise DatabaseError(
            f"the demo needs to create a database named {DEMO_DB} on the server and could "
            f"not ({exc.diag.message_primary or exc}); unset DATABASE_URL to use the "
            "embedded Postgres") from None
    return make_conninfo(server_dsn, dbname=DEMO_DB)


def start_receiver(dsn: str, port: int, log_path: Path) -> subprocess.Popen:
    """`serve` for the demo, its log (a line per delivery) in ``log_path``: a pipe
    nobody reads would fill after a few hundred deliveries and stop the receiver."""
    env = dict(os.environ, DATABASE_URL=dsn, CALCOM_WEBHOOK_SECRETS=DEMO_SECRET)
    env.pop("BOOKING_REPORT_DATABASE", None)  # the URL already names the demo database
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "booking_report.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)


def run_demo(*, seed: int, leads: int, weeks: int, as_of: str | None,
             webhook_loss: float = 0.15) -> int:
    from report.data import load_report
    from report.terminal import render

    now = datetime.fromisoformat(as_of) if as_of else datetime.now(UTC).replace(microsecond=0)
    server = resolve(server_only=True)
    say(f"creating the demo database {DEMO_DB} (replaced on every demo run)")
    dsn = demo_database(server.dsn)
    init_db(dsn)

    say(f"generating {leads} leads over {weeks} weeks (seed {seed}), "
        f"as of {now:%Y-%m-%d %H:%M} UTC")
    scenario = generate(seed, as_of=now, leads=leads, weeks=weeks, lossy=webhook_loss)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    folder = data_dir() / "demo"
    receiver_log = folder / "receiver.log"
    say(f"starting the webhook receiver on {url} (its log: {receiver_log})")
    proc = start_receiver(dsn, port, receiver_log)
    try:
        try:
            wait_healthy(url, proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}{receiver_log.read_text(encoding='utf-8')[-3000:]}"
                               ) from None
        say(f"sending {len(scenario.bodies)} signed Cal.com deliveries (shuffled, with "
            "duplicates); some are lost on purpose, as Cal.com loses them (the report "
            "says how many bookings that touched)")
        bar = Progress(len(scenario.bodies), "    delivering")
        statuses = post_bodies(url, DEMO_SECRET, scenario.bodies,
                               progress=lambda done, total: bar.update(done))
        forged = post_bodies(url, "not-the-secret", scenario.bodies[:3])
        say(f"receiver answers: {dict(sorted(statuses.items()))}; "
            f"{sum(forged.values())} forged deliveries refused with {sorted(forged)}")
        if set(statuses) - {200}:
            raise RuntimeError(f"unexpected receiver answers: {statuses}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()

    csv_path = folder / "crm_leads.csv"
    csv_path.write_text(crm_csv_text(scenario), encoding="utf-8")
    rows = read_csv(csv_path, mapping={}, tz=zone("UTC"))
    with connect(dsn) as conn:
        write_snapshot(conn, rows, csv_path.name, snapshot_at=scenario.snapshot_at)
    confirmations = load_manual_outcomes(dsn, scenario)
    say(f"loaded the CRM snapshot ({len(rows)} leads) from {csv_path} and "
        f"{confirmations} owner confirmations")

    say("repairing what webhooks missed: syncing bookings from a local stand-in for "
        "Cal.com's API v2 (GET /v2/bookings), serving the same truth")
    with StandinServer(create_standin(scenario.api_bookings, api_key=DEMO_API_KEY)) as api:
        summary = run_sync(dsn, api=CalcomApi(api.url, DEMO_API_KEY, "2026-05-01"),
                           now=lambda: min(datetime.now(UTC), now))
    say(summary_line(summary))

    say("refreshing: dbt build (models, seeds, data and unit tests) and source freshness")
    # as of the build (unless --as-of was given), so the deliveries refused a moment
    # ago count in the feed's last-7-days figures
    outcome = refresh(dsn, as_of=as_of, target_dir=data_dir() / "dbt",
                      variables={"api_sync_configured": True}, unit_tests=True)
    print_summary(outcome, stream=sys.stderr)
    if not outcome.build.success:
        return 1
    say(f"the weekly report; explore it with `CALCOM_WEBHOOK_SECRETS={DEMO_SECRET} "
        f"booking-report --database {DEMO_DB} serve` (then http://127.0.0.1:8000/report) "
        f"or `booking-report --database {DEMO_DB} report --week YYYY-Www`")
    sys.stdout.write(render(load_report(dsn), "text"))
    return 0
