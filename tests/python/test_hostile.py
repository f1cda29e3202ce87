"""What a stranger or a careless operator can do to the receiver and the loaders, and
what they cannot break (docs/reliability.md lists each finding and its test)."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import time
from pathlib import Path

import pytest
from helpers import LiveServer, cli, cli_with_peak, fetchall, wait_for
from httpclient import post_webhook, request

from booking_report.server import create_server_app
from devtools.net import SlowClients, start_serve, stop_serve
from ingest import spool
from ingest.signature import sign

SECRET = "hostile-secret"


def delivery(i: int, trigger: str = "BOOKING_CREATED") -> bytes:
    return json.dumps({"triggerEvent": trigger, "createdAt": "2026-11-20T10:00:00Z",
                       "payload": {"uid": f"hostile-{i}", "startTime": "2026-11-25T10:00:00Z",
                                   "endTime": "2026-11-25T10:30:00Z"}}).encode()


def serve(dsn: str, tmp_path: Path, **env: str):
    return start_serve({"DATABASE_URL": dsn, "CALCOM_WEBHOOK_SECRETS": SECRET,
                        "BOOKING_REPORT_SPOOL_DIR": str(tmp_path / "spool"),
                        "BOOKING_REPORT_DATA_DIR": str(tmp_path), **env})


# ------------------------------------------------------------------ the door stays open


@pytest.mark.slow
def test_one_client_trickling_headers_on_a_thousand_connections_cannot_shut_the_door(
        raw_db, tmp_path):
    """1,050 connections from one client (127.0.0.2), each sending a header line now and
    then, held waitress's whole connection limit: every genuine delivery timed out. A
    client may now hold 50 connections, and a request must arrive whole in its deadline
    (3 s here); deliveries from Cal.com (127.0.0.1) are stored meanwhile."""
    proc, url = serve(raw_db, tmp_path, BOOKING_REPORT_REQUEST_SECONDS="3")
    port = int(url.rsplit(":", 1)[1])
    try:
        with SlowClients(port, slow_headers=1050, interval=1.0, source="127.0.0.2") as slow:
            time.sleep(1.5)
            answers = []
            for i in range(20):
                started = time.monotonic()
                answer = post_webhook(url, delivery(i), SECRET)
                answers.append((answer.status, time.monotonic() - started))
            # the ones it let in are closed once their request runs past the deadline
            assert wait_for(lambda: slow.still_open() == 0, 15), slow.still_open()
    finally:
        out = stop_serve(proc)
    assert [status for status, _ in answers] == [200] * 20, out[-2000:]
    assert max(seconds for _, seconds in answers) < 2.0, answers
    assert fetchall(raw_db, "select count(*) from raw.calcom_webhook_events") == [(20,)]
    assert "refused" in out and "127.0.0.2" in out  # one line, not one per connection
    assert out.count("refused") <= 2, out[-2000:]


def test_sigterm_finishes_the_requests_in_hand(raw_db, tmp_path):
    """A delivery whose body is still arriving when `serve` gets SIGTERM is received,
    stored and answered; the listening socket closes at once (a new process can bind)."""
    proc, url = serve(raw_db, tmp_path)
    port = int(url.rsplit(":", 1)[1])
    body = delivery(1)
    head = (f"POST /webhooks/calcom HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nX-Cal-Signature-256: {sign(body, SECRET)}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        sock.sendall(head + body[:10])
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        # new connections are refused while the old request is finished
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        sock.sendall(body[10:])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        sock.close()
        proc.wait(timeout=30)
    finally:
        out = stop_serve(proc) if proc.poll() is None else proc.communicate()[0]
    assert answer.startswith(b"HTTP/1.1 200"), (answer, out)
    assert proc.returncode == 0, out
    assert [bytes(b) for (b,) in fetchall(raw_db, "select raw_body from"
                                                  " raw.calcom_webhook_events")] == [body]


# ------------------------------------------------------------------ a spool that cannot jam

DEAD_DATABASE = "postgresql://postgres@127.0.0.1:1/nowhere"


def spooling_app(tmp_path: Path, dsn: str = DEAD_DATABASE):
    return create_server_app({"DATABASE_URL": dsn, "CALCOM_WEBHOOK_SECRETS": [SECRET],
                              "SPOOL_DIR": str(tmp_path / "spool"), "DB_DEADLINE_SECONDS": 1,
                              "DB_PROBE_SECONDS": 0.2})


@pytest.mark.parametrize("poison", [
    b'{"triggerEvent": "BOOKING_\\u0000CREATED", "createdAt": "2026-11-20T10:00:00Z"}',
    b'{"triggerEvent": "BOOKING_\\ud800", "createdAt": "2026-11-20T10:00:00Z"}',
], ids=["nul", "lone-surrogate"])
def test_a_poison_body_neither_trips_the_breaker_nor_blocks_the_spool(raw_db, tmp_path,
                                                                      poison):
    """A signed body whose trigger Postgres cannot hold as text: stored at once with the
    database up (the breaker stays closed); during an outage it waits in the spool like
    any other and is drained with the rest (it used to block every file after it)."""
    with LiveServer(spooling_app(tmp_path, raw_db)) as live:
        assert post_webhook(live.url, poison, SECRET).status == 200
        assert post_webhook(live.url, delivery(0), SECRET).status == 200
        assert request(live.url + "/healthz").json()["database"] == "reachable"
    assert fetchall(raw_db, "select count(*), count(trigger_event)"
                            " from raw.calcom_webhook_events") == [(2, 1)]
    # an outage: the poison and 30 others are spooled, then drained, none left behind
    outage = tmp_path / "outage"
    with LiveServer(spooling_app(outage)) as live:
        statuses = [post_webhook(live.url, poison + b" ", SECRET).status] + [
            post_webhook(live.url, delivery(i), SECRET).status for i in range(1, 31)]
    assert statuses == [202] * 31
    drained = cli(raw_db, "drain-spool", BOOKING_REPORT_SPOOL_DIR=str(outage / "spool"))
    assert drained.returncode == 0, drained.stdout + drained.stderr
    assert "drained 31 spooled deliveries" in drained.stdout
    assert fetchall(raw_db, "select count(*) from raw.calcom_webhook_events") == [(33,)]


def test_a_file_the_database_refuses_is_set_aside_with_its_reason_and_the_rest_drain(
        raw_db, tmp_path):
    spool_dir = tmp_path / "spool"
    for i in range(5):
        spool.write(spool_dir, delivery(i), webhook_version="2021-10-20", secret_index=0)
    bad = spool.write(spool_dir, delivery(99), webhook_version=None, secret_index=0)
    record = json.loads(bad.read_text())
    record["secret_index"] = "not a number"  # a value the database refuses for this body
    bad.write_text(json.dumps(record))
    first = cli(raw_db, "drain-spool", BOOKING_REPORT_SPOOL_DIR=str(spool_dir))
    assert first.returncode == 1 and "Traceback" not in first.stderr
    assert "drained 5 spooled deliveries" in first.stdout
    assert f"{bad.name}: the database refused the body" in first.stdout
    assert fetchall(raw_db, "select count(*) from raw.calcom_webhook_events") == [(5,)]
    assert spool.pending(spool_dir) == [] and [p.name for p in spool.unreadable(spool_dir)] \
        == [bad.name]


def test_spool_files_are_private_and_identical_bodies_at_once_all_land(tmp_path):
    """Bodies hold names and emails: the spool folder and files are the service user's
    only. Four identical deliveries at once (several webhook subscriptions) each get a
    temporary name of their own: all answered 202, one file."""
    with LiveServer(spooling_app(tmp_path)) as live:
        with __import__("concurrent.futures").futures.ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda _: post_webhook(live.url, delivery(7), SECRET).status,
                                     range(4)))
    assert statuses == [202] * 4
    folder = tmp_path / "spool"
    files = spool.pending(folder)
    assert len(files) == 1 and not list(folder.glob(".*.tmp"))
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_healthz_says_not_ok_when_the_spool_cannot_drain_or_be_written(raw_db, tmp_path):
    """The spool's depth and age are reported; a body waiting longer than the limit
    while the database answers (a stuck drain), or a spool that cannot be written, is
    not ok (503), with the reason."""
    spool_dir = tmp_path / "spool"
    spool.write(spool_dir, delivery(1), webhook_version=None, secret_index=0)
    os.utime(spool.pending(spool_dir)[0], (time.time() - 3600, time.time() - 3600))
    app = create_server_app({"DATABASE_URL": raw_db, "CALCOM_WEBHOOK_SECRETS": [SECRET],
                             "SPOOL_DIR": str(spool_dir), "SPOOL_MAX_AGE_SECONDS": 60,
                             "DB_PROBE_SECONDS": 3600})  # no drain during the test
    with LiveServer(app) as live:
        stuck = request(live.url + "/healthz")
    assert stuck.status == 503, stuck.body
    assert stuck.json()["spool_depth"] == 1 and stuck.json()["spool_oldest_seconds"] > 3000
    assert "waited" in stuck.json()["problems"][0]
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the spool folder should be")
    app = create_server_app({"DATABASE_URL": raw_db, "CALCOM_WEBHOOK_SECRETS": [SECRET],
                             "SPOOL_DIR": str(blocked)})
    with LiveServer(app) as live:
        unwritable = request(live.url + "/healthz")
    assert unwritable.status == 503 and unwritable.json()["spool_writable"] is False


def test_a_full_disk_answers_503_with_one_line_and_leaves_no_temporary_file(tmp_path):
    """The database is down and the spool's disk is full (a file size limit stands in
    for it): the delivery is answered 503 (Cal.com shows it as failed) with one log line
    and no traceback; no half-written file stays behind; /healthz says why."""
    import resource

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))

    proc, url = start_serve({"DATABASE_URL": DEAD_DATABASE, "CALCOM_WEBHOOK_SECRETS": SECRET,
                             "BOOKING_REPORT_SPOOL_DIR": str(tmp_path / "spool"),
                             "BOOKING_REPORT_DATA_DIR": str(tmp_path)}, preexec_fn=small_files)
    try:
        answers = [post_webhook(url, delivery(i), SECRET).status for i in range(3)]
    finally:
        out = stop_serve(proc)
    assert answers == [503] * 3, out
    assert out.count("NOT stored") == 3 and "Traceback" not in out, out
    assert not list((tmp_path / "spool").glob(".*.tmp")) and not spool.pending(tmp_path / "spool")


# ------------------------------------------------------------------ the page and its login


def page_app(dsn: str, tmp_path: Path, **extra):
    return create_server_app({"DATABASE_URL": dsn, "CALCOM_WEBHOOK_SECRETS": [SECRET],
                              "SPOOL_DIR": str(tmp_path / "spool"), "DATA_DIR": str(tmp_path),
                              **extra})


def test_strangers_cannot_lock_the_owner_out_and_the_throttle_forgets(raw_db, tmp_path):
    """Ten wrong passwords for "owner" from ten addresses hold the name only for those
    addresses: the owner signs in from a fresh one. A flood of distinct names and
    addresses is remembered only up to a bound."""
    from reportkit import Client

    from webauth import LoginThrottle, hash_password

    app = page_app(raw_db, tmp_path, REQUIRE_LOGIN=True, REPORT_USER="owner",
                   REPORT_PASSWORD_HASH=hash_password("right password"))
    with LiveServer(app) as live:
        throttle = app.extensions["login_throttle"]
        for i in range(10):
            throttle.failed(f"203.0.113.{i}", "owner")
        assert throttle.retry_after("203.0.113.3", "owner") > 0  # a failed address waits
        assert throttle.retry_after("198.51.100.7", "owner") == 0  # a fresh one does not
        page = Client(live.url).login("owner", "right password")
        assert page.status == 303, page.text
    small = LoginThrottle(max_keys=100, max_addresses_per_user=8)
    for i in range(5000):
        small.failed(f"10.{i // 250}.{i % 250}.1", f"name-{i}")
    assert small.remembered() <= 200


def test_without_a_login_the_page_answers_only_to_localhost_and_cannot_be_framed(
        raw_db, tmp_path):
    """A page served on localhost without a login (the default there) refuses any other
    Host: a site elsewhere cannot read or confirm through DNS rebinding. Every answer
    forbids framing and loading anything from elsewhere."""
    with LiveServer(page_app(raw_db, tmp_path)) as live:
        ok = request(live.url + "/report")
        rebound = request(live.url + "/report", headers={"Host": "attacker.example:8000"})
        post = request(live.url + "/review/confirmations", method="POST", body=b"x=1",
                       headers={"Host": "attacker.example",
                                "Content-Type": "application/x-www-form-urlencoded"})
        webhook = post_webhook(live.url, delivery(1), SECRET)
    assert ok.status == 200 and rebound.status == 421 and post.status == 421
    assert webhook.status == 200  # the receiver answers Cal.com on any name
    for answer in (ok, rebound):
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


# ------------------------------------------------------------------ loaders


def test_load_crm_names_the_row_of_an_unreadable_value_and_writes_nothing(raw_db, tmp_path):
    head = "lead_id,created_at,email\n"
    nul = tmp_path / "nul.csv"
    nul.write_text(head + "L-1,2026-11-18T09:00:00Z,a@x.com\n"
                   "L-2,2026-11-18T09:00:00Z,b\x00@x.com\n")
    long_line = tmp_path / "long.csv"
    with open(long_line, "w") as fh:
        fh.write(head + "L-1,2026-11-18T09:00:00Z,a@x.com\nL-2,2026-11-18T09:00:00Z,")
        fh.write("b" * (9 * 1024 * 1024) + "\n")
    for path, needle in [(nul, "row 3"), (long_line, "line 3 is longer than 8 MB")]:
        res = cli(raw_db, "load-crm", str(path))
        assert res.returncode == 2, res.stderr
        assert needle in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert fetchall(raw_db, "select count(*) from raw.crm_lead_snapshots") == [(0,)]


def test_load_crm_streams_a_file_of_one_huge_line_in_bounded_memory(raw_db, tmp_path):
    """A 300 MB file that is a single line (a wrong export): refused at its first 8 MB,
    naming the line; the loader's peak memory stays far below the file's size."""
    path = tmp_path / "one-line.csv"
    with open(path, "w") as fh:
        fh.write("lead_id,created_at," + "x" * (1024 * 1024))
        chunk = "y" * (1024 * 1024)
        for _ in range(300):
            fh.write(chunk)
    res, peak_kib = cli_with_peak(raw_db, "load-crm", str(path))
    assert res.returncode == 2 and "line 1 is longer than 8 MB" in res.stderr, res.stderr
    assert peak_kib < 200 * 1024, f"peak {peak_kib} KiB"


def test_load_crm_keeps_a_lead_id_too_long_to_be_a_key_and_says_so(raw_db, tmp_path):
    """A 3,000-character lead id is stored as received (it used to fail the load as "the
    database cannot be reached"); the loader warns, the next refresh lists it."""
    path = tmp_path / "crm.csv"
    ok_row = "L-ok,2026-11-18T09:00:00Z,ok@x.com\n"
    long_row = f"{'L' * 3000},2026-11-18T09:00:00Z,long@x.com\n"
    path.write_text("lead_id,created_at,email\n" + ok_row + long_row
                    + f"{'L' * 3000},2026-11-19T09:00:00Z,twice@x.com\n")
    twice = cli(raw_db, "load-crm", str(path))
    assert twice.returncode == 2 and "appears twice (rows 3 and 4)" in twice.stderr, twice.stderr
    path.write_text("lead_id,created_at,email\n" + ok_row + long_row)
    res = cli(raw_db, "load-crm", str(path))
    assert res.returncode == 0, res.stderr
    assert "1 rows hold a value too long to be a key (row 3: lead_id (3000 characters))" \
        in res.stderr
    assert fetchall(raw_db, "select count(*), max(length(lead_id)) from raw.crm_lead_snapshots"
                    ) == [(2, 3000)]
