"""Put a generated scenario into a database: directly (tests) or over real HTTP (demo)."""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from booking_report.demo.scenario import Scenario
from ingest.crm import prepare_rows, write_snapshot, zone
from ingest.db import connect
from ingest.signature import sign
from ingest.store import parse_body, store_event


def crm_csv_text(sc: Scenario) -> str:
    rows = sc.crm_rows()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def load_crm(dsn: str, sc: Scenario, snapshot_at: datetime | None = None) -> int:
    """Load the scenario's CRM export through the same validation as `load-crm`."""
    text = crm_csv_text(sc)
    reader = csv.DictReader(io.StringIO(text))
    rows = prepare_rows(list(reader.fieldnames or []), list(reader), mapping={},
                        tz=zone("UTC"), where="scenario")
    with connect(dsn) as conn:
        return write_snapshot(conn, rows, f"scenario-{sc.seed}",
                              snapshot_at=snapshot_at or sc.snapshot_at).rows


def load_manual_outcomes(dsn: str, sc: Scenario) -> int:
    items = sc.manual_outcomes()
    with connect(dsn) as conn:
        for booking_id, outcome, confirmed_at in items:
            conn.execute("insert into raw.manual_outcomes (booking_id, outcome, confirmed_by,"
                         " confirmed_at, note) values (%s, %s, %s, %s, %s)",
                         (booking_id, outcome, "owner@studio.example", confirmed_at,
                          "confirmed in the review queue"))
    return len(items)


def store_bodies(dsn: str, bodies: Iterable[bytes]) -> int:
    stored = 0
    with connect(dsn) as conn:
        for body in bodies:
            result = store_event(conn, body, parse_body(body), webhook_version="2021-10-20",
                                 secret_index=0, source="webhook")
            stored += result.status == "stored"
        conn.commit()
    return stored


def post_bodies(base_url: str, secret: str, bodies: list[bytes], *, threads: int = 4,
                progress=None) -> dict[int, int]:
    """POST every body, signed as Cal.com signs, to the running receiver."""
    url = base_url.rstrip("/") + "/webhooks/calcom"

    def send(body: bytes) -> int:
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "X-Cal-Webhook-Version": "2021-10-20",
            "X-Cal-Signature-256": sign(body, secret)})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    statuses: dict[int, int] = {}
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for done, status in enumerate(pool.map(send, bodies), start=1):
            statuses[status] = statuses.get(status, 0) + 1
            if progress:
                progress(done, len(bodies))
    return statuses


def write_jsonl(path: Path, bodies: Iterable[bytes]) -> None:
    with open(path, "wb") as fh:
        for body in bodies:
            fh.write(json.dumps(json.loads(body)).encode() + b"\n")
