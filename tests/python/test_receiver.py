"""The webhook receiver over real HTTP against a real Postgres.

Each test signs (or breaks) one thing and asserts both the answer and exactly what
was stored.
"""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from helpers import LiveServer, fetchall, fixture_body
from httpclient import post_webhook, request

from booking_report.server import create_server_app
from ingest.app import ConfigError
from ingest.signature import sign

SECRET_OLD = "whsec-old-7f1c"
SECRET_NEW = "whsec-new-93ab"
TRIGGERS = ["BOOKING_CREATED", "BOOKING_REQUESTED", "BOOKING_RESCHEDULED",
            "BOOKING_CANCELLED", "BOOKING_REJECTED", "BOOKING_NO_SHOW_UPDATED",
            "BOOKING_PAYMENT_INITIATED", "BOOKING_PAID",
            "AFTER_GUESTS_CAL_VIDEO_NO_SHOW", "AFTER_HOSTS_CAL_VIDEO_NO_SHOW",
            "MEETING_STARTED", "MEETING_ENDED", "PING"]


@pytest.fixture
def server(raw_db, tmp_path):
    app = create_server_app({"DATABASE_URL": raw_db,
                             "CALCOM_WEBHOOK_SECRETS": [SECRET_NEW, SECRET_OLD],
                             "SPOOL_DIR": str(tmp_path / "spool"),
                             "MAX_BODY_BYTES": 64 * 1024})
    with LiveServer(app) as live:
        live.dsn = raw_db
        yield live


def stored(dsn):
    return fetchall(dsn, "select raw_body, payload, parse_error, body_sha256, trigger_event,"
                         " webhook_version, secret_index, source from raw.calcom_webhook_events"
                         " order by event_id")


def rejections(dsn):
    return fetchall(dsn, "select reason, status_code, body_size, body_sha256, remote_addr"
                         " from raw.calcom_rejected_deliveries order by rejection_id")


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_every_documented_trigger_is_stored_byte_for_byte(server, trigger):
    body = fixture_body(trigger)
    resp = post_webhook(server.url, body, SECRET_NEW)
    assert resp.status == 200, resp.body
    assert resp.json() == {"status": "stored"}
    rows = stored(server.dsn)
    assert len(rows) == 1
    raw_body, payload, parse_error, digest, trig, version, secret_index, source = rows[0]
    assert bytes(raw_body) == body
    assert payload == json.loads(body)
    assert parse_error is None
    assert digest == hashlib.sha256(body).hexdigest()
    assert trig == trigger
    assert (version, secret_index, source) == ("2021-10-20", 0, "webhook")
    assert rejections(server.dsn) == []


def test_each_configured_secret_is_accepted_and_recorded_by_index(server):
    body_a = fixture_body("BOOKING_CREATED")
    body_b = fixture_body("BOOKING_CANCELLED")
    assert post_webhook(server.url, body_a, SECRET_NEW).status == 200
    assert post_webhook(server.url, body_b, SECRET_OLD).status == 200
    assert [r[6] for r in stored(server.dsn)] == [0, 1]


def test_rotated_out_secret_is_refused_and_nothing_stored(server):
    body = fixture_body("BOOKING_CREATED")
    resp = post_webhook(server.url, body, "whsec-retired-0000")
    assert resp.status == 401
    assert stored(server.dsn) == []
    assert rejections(server.dsn) == [
        ("bad_signature", 401, len(body), hashlib.sha256(body).hexdigest(), "127.0.0.1")]


def test_one_changed_body_byte_is_refused(server):
    body = fixture_body("BOOKING_CREATED")
    signature = sign(body, SECRET_NEW)
    tampered = body.replace(b"L-1042", b"L-1043")
    assert tampered != body
    resp = post_webhook(server.url, tampered, signature=signature)
    assert resp.status == 401
    assert stored(server.dsn) == []
    assert [r[0] for r in rejections(server.dsn)] == ["bad_signature"]


def test_missing_signature_header_is_refused(server):
    resp = post_webhook(server.url, fixture_body("PING"))
    assert resp.status == 401
    assert resp.json()["reason"] == "missing_signature"
    assert stored(server.dsn) == []
    assert [r[:2] for r in rejections(server.dsn)] == [("missing_signature", 401)]


def test_no_secret_provided_literal_is_refused(server):
    resp = post_webhook(server.url, fixture_body("PING"), signature="no-secret-provided")
    assert resp.status == 401
    assert resp.json()["reason"] == "no_secret_provided"
    assert stored(server.dsn) == []
    assert [r[0] for r in rejections(server.dsn)] == ["no_secret_provided"]


def test_upper_case_hex_signature_is_accepted(server):
    body = fixture_body("BOOKING_CREATED")
    resp = post_webhook(server.url, body, signature=sign(body, SECRET_NEW).upper())
    assert resp.status == 200
    assert len(stored(server.dsn)) == 1


def test_duplicate_body_is_stored_once(server):
    body = fixture_body("BOOKING_CREATED")
    assert post_webhook(server.url, body, SECRET_NEW).json() == {"status": "stored"}
    second = post_webhook(server.url, body, SECRET_OLD)
    assert second.status == 200
    assert second.json() == {"status": "duplicate"}
    assert len(stored(server.dsn)) == 1


def test_trailing_slash_is_accepted_without_redirect(server):
    body = fixture_body("BOOKING_CREATED")
    resp = post_webhook(server.url, body, SECRET_NEW, path="/webhooks/calcom/")
    assert resp.status == 200
    assert len(stored(server.dsn)) == 1


def test_body_over_the_cap_is_refused_before_storing(server):
    body = json.dumps({"triggerEvent": "PING", "pad": "x" * (64 * 1024)}).encode()
    resp = post_webhook(server.url, body, SECRET_NEW)
    assert resp.status == 413
    assert stored(server.dsn) == []
    reason, status, size, digest, _ = rejections(server.dsn)[0]
    assert (reason, status, size, digest) == ("body_too_large", 413, len(body), None)


@pytest.mark.parametrize("body,problem", [
    (b"this is not json", "not JSON"),
    (b'[{"triggerEvent": "BOOKING_CREATED"}]', "not an object"),
    (b'{"createdAt": "2026-11-16T09:12:44Z", "payload": {}}', "no triggerEvent"),
])
def test_authenticated_unusable_body_is_stored_then_400(server, body, problem):
    resp = post_webhook(server.url, body, SECRET_NEW)
    assert resp.status == 400
    assert problem in resp.json()["error"]
    assert "custom payload template" in resp.json()["error"]
    rows = stored(server.dsn)
    assert len(rows) == 1
    assert bytes(rows[0][0]) == body
    assert problem in rows[0][2]
    assert rows[0][1] is None or problem == "no triggerEvent" or problem == "not an object"


def test_wrong_content_type_is_stored_then_415(server):
    body = fixture_body("BOOKING_CREATED")
    resp = post_webhook(server.url, body, SECRET_NEW, content_type="text/plain")
    assert resp.status == 415
    assert "custom payload template" in resp.json()["error"]
    rows = stored(server.dsn)
    assert len(rows) == 1 and bytes(rows[0][0]) == body


def test_nul_escape_refused_by_jsonb_is_kept_with_its_parse_error(server):
    body = (b'{"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-11-16T09:00:00Z",'
            b' "payload": {"uid": "bk_nul", "title": "a\\u0000b"}}')
    resp = post_webhook(server.url, body, SECRET_NEW)
    assert resp.status == 200
    assert "jsonb" in resp.json()["warning"]
    raw_body, payload, parse_error, *_ = stored(server.dsn)[0]
    assert bytes(raw_body) == body
    assert payload is None
    assert "jsonb" in parse_error


def test_invalid_utf8_is_kept_byte_for_byte(server):
    body = b'{"triggerEvent": "BOOKING_CREATED", "payload": {"title": "caf\xe9"}}'
    resp = post_webhook(server.url, body, SECRET_NEW)
    assert resp.status == 400
    raw_body, payload, parse_error, *_ = stored(server.dsn)[0]
    assert bytes(raw_body) == body
    assert payload is None
    assert "UTF-8" in parse_error


def test_unknown_trigger_is_stored(server):
    body = b'{"triggerEvent": "FORM_SUBMITTED", "createdAt": "2026-11-16T09:00:00Z", "payload": {}}'
    resp = post_webhook(server.url, body, SECRET_NEW)
    assert resp.status == 200
    assert stored(server.dsn)[0][4] == "FORM_SUBMITTED"


def test_flat_meeting_ended_body_is_stored_with_its_trigger(server):
    body = fixture_body("MEETING_ENDED")
    assert post_webhook(server.url, body, SECRET_NEW).status == 200
    row = stored(server.dsn)[0]
    assert row[4] == "MEETING_ENDED"
    assert "payload" not in row[1] and row[1]["uid"] == "bk_7Hq2mV9xP1"


def test_healthz_reports_database(server):
    resp = request(server.url + "/healthz")
    assert resp.status == 200 and resp.json()["database"] == "reachable"


def test_unsigned_is_accepted_only_with_the_development_flag(raw_db, tmp_path):
    app = create_server_app({"DATABASE_URL": raw_db, "CALCOM_WEBHOOK_SECRETS": [],
                             "ALLOW_UNSIGNED_WEBHOOKS": True,
                             "SPOOL_DIR": str(tmp_path / "spool")})
    with LiveServer(app) as live:
        resp = post_webhook(live.url, fixture_body("PING"), signature="no-secret-provided")
    assert resp.status == 200
    assert [r[6] for r in stored(raw_db)] == [None]


def test_refuses_to_start_without_secret_or_flag(raw_db):
    with pytest.raises(ConfigError, match="CALCOM_WEBHOOK_SECRETS"):
        create_server_app({"DATABASE_URL": raw_db, "CALCOM_WEBHOOK_SECRETS": []})


def test_database_down_spools_then_drains_by_itself(raw_db, tmp_path):
    """A delivery that arrives while Postgres is unreachable is answered 202 from the
    durable spool; a receiver that can reach the database drains the spool by itself,
    with no new delivery to trigger it."""
    spool_dir = tmp_path / "spool"
    dead = "postgresql://postgres@127.0.0.1:1/nowhere"
    app = create_server_app({"DATABASE_URL": dead, "CALCOM_WEBHOOK_SECRETS": [SECRET_NEW],
                             "SPOOL_DIR": str(spool_dir)})
    body = fixture_body("BOOKING_CREATED")
    with LiveServer(app) as live:
        resp = post_webhook(live.url, body, SECRET_NEW)
        health = request(live.url + "/healthz")
    assert resp.status == 202 and resp.json() == {"status": "spooled"}
    assert len(list(spool_dir.glob("*.json"))) == 1
    assert health.status == 200
    assert health.json()["database"] == "unreachable"
    assert health.json()["spool_depth"] == 1 and health.json()["accepting_deliveries"]

    app = create_server_app({"DATABASE_URL": raw_db, "CALCOM_WEBHOOK_SECRETS": [SECRET_NEW],
                             "SPOOL_DIR": str(spool_dir), "DB_PROBE_SECONDS": 0.2})
    with LiveServer(app) as live:
        deadline = time.monotonic() + 10
        while list(spool_dir.glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.1)
        health = request(live.url + "/healthz").json()
    assert list(spool_dir.glob("*.json")) == []
    assert (health["database"], health["spool_depth"]) == ("reachable", 0)
    rows = stored(raw_db)
    assert [(bytes(r[0]), r[4], r[6]) for r in rows] == [(body, "BOOKING_CREATED", 0)]


def test_json_nested_too_deep_for_the_parser_is_stored_with_a_parse_error(server):
    body = b'{"triggerEvent": "BOOKING_CREATED", "payload": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    resp = post_webhook(server.url, body, SECRET_NEW)
    assert resp.status == 400
    assert "nested too deeply" in resp.json()["error"]
    raw_body, payload, parse_error, *_ = stored(server.dsn)[0]
    assert bytes(raw_body) == body and payload is None
    assert "nested too deeply" in parse_error


def test_refusals_record_whether_a_signature_header_was_present(server):
    body = fixture_body("PING")
    post_webhook(server.url, body)  # no header: a stranger
    post_webhook(server.url, body, "not-the-secret")  # a header that matches nothing
    rows = fetchall(server.dsn, "select reason, has_signature from"
                                " raw.calcom_rejected_deliveries order by rejection_id")
    assert rows == [("missing_signature", False), ("bad_signature", True)]
