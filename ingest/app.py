"""The Cal.com webhook receiver (Flask app factory).

Verify, store, commit, then answer: a 2xx means the body is durable (in Postgres,
or in the local spool when Postgres is down, hung or refusing writes). The app never
runs DDL: migrations are `init-db`'s job, run by the schema owner.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request

import webauth
from ingest.durable import DatabaseUnavailable, DeliveryStore
from ingest.review import review
from ingest.signature import SignatureError, verify
from ingest.spool import SpoolFull
from ingest.store import body_hash, parse_body, storable_trigger

log = logging.getLogger("booking_report.ingest")

TEMPLATE_HINT = (
    "If a custom payload template is set in the Cal.com webhook settings, clear it: "
    "this receiver expects Cal.com's default JSON body."
)

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,
    "CALCOM_WEBHOOK_SECRETS": [],
    "ALLOW_UNSIGNED_WEBHOOKS": False,
    "MAX_BODY_BYTES": 1024 * 1024,
    "SPOOL_DIR": ".data/spool",
    # the longest a delivery waits for Postgres before it is spooled instead
    "DB_DEADLINE_SECONDS": 2.0,
    # how often the background drainer probes a database known to be down
    "DB_PROBE_SECONDS": 1.0,
    # /healthz says not-ok when a body has waited in the spool longer than this while
    # the database answers (the drain is stuck), or when the spool cannot be written
    "SPOOL_MAX_AGE_SECONDS": 900,
}


def parse_secrets(value: str | None) -> list[str]:
    return [s.strip() for s in (value or "").split(",") if s.strip()]


def config_from_env(environ: dict[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    cfg: dict[str, Any] = {}
    if env.get("DATABASE_URL"):
        cfg["DATABASE_URL"] = env["DATABASE_URL"]
    if "CALCOM_WEBHOOK_SECRETS" in env:
        cfg["CALCOM_WEBHOOK_SECRETS"] = parse_secrets(env["CALCOM_WEBHOOK_SECRETS"])
    if env.get("BOOKING_REPORT_ALLOW_UNSIGNED_WEBHOOKS", "").lower() in ("1", "true", "yes"):
        cfg["ALLOW_UNSIGNED_WEBHOOKS"] = True
    if env.get("BOOKING_REPORT_MAX_BODY_BYTES"):
        try:
            cfg["MAX_BODY_BYTES"] = int(env["BOOKING_REPORT_MAX_BODY_BYTES"])
        except ValueError:
            raise ConfigError("BOOKING_REPORT_MAX_BODY_BYTES must be a whole number of "
                              f"bytes, not {env['BOOKING_REPORT_MAX_BODY_BYTES']!r}") from None
    if env.get("BOOKING_REPORT_SPOOL_DIR"):
        cfg["SPOOL_DIR"] = env["BOOKING_REPORT_SPOOL_DIR"]
    return cfg


class ConfigError(ValueError):
    pass


def validate_config(cfg: dict[str, Any]) -> None:
    if not cfg.get("DATABASE_URL"):
        raise ConfigError("DATABASE_URL is not set for the receiver")
    if not cfg.get("CALCOM_WEBHOOK_SECRETS") and not cfg.get("ALLOW_UNSIGNED_WEBHOOKS"):
        raise ConfigError(
            "no webhook secret: set CALCOM_WEBHOOK_SECRETS (comma-separated) to the secret "
            "configured on the Cal.com webhook, or start with --allow-unsigned for local "
            "development only"
        )
    if int(cfg["MAX_BODY_BYTES"]) <= 0:
        raise ConfigError("MAX_BODY_BYTES must be a positive number of bytes")


def _remote() -> str | None:
    return request.remote_addr


def delivery_store() -> DeliveryStore:
    return current_app.extensions["delivery_store"]


def _reject(reason: str, status: int, message: str, body: bytes | None,
            size: int | None) -> tuple[Any, int]:
    has_signature = bool((request.headers.get("X-Cal-Signature-256") or "").strip())
    recorded = delivery_store().record_rejection(
        reason=reason, status_code=status, body_size=size,
        body_sha256=body_hash(body) if body is not None else None, remote_addr=_remote(),
        has_signature=has_signature)
    log.warning("delivery refused reason=%s status=%d size=%s signed=%s remote=%s%s",
                reason, status, size, has_signature, _remote(),
                "" if recorded else " (not recorded: database unavailable)")
    return jsonify({"status": "refused", "reason": reason, "error": message}), status


webhooks = Blueprint("webhooks", __name__)


@webhooks.post("/webhooks/calcom", strict_slashes=False)
def receive_calcom():
    cfg = current_app.config
    cap = int(cfg["MAX_BODY_BYTES"])
    declared = request.content_length
    if declared is not None and declared > cap:
        return _reject("body_too_large", 413, f"body exceeds {cap} bytes", None, declared)
    body = request.stream.read(cap + 1)
    if len(body) > cap:
        return _reject("body_too_large", 413, f"body exceeds {cap} bytes", None, None)

    header = request.headers.get("X-Cal-Signature-256")
    secret_index: int | None = None
    try:
        secret_index = verify(body, header, cfg["CALCOM_WEBHOOK_SECRETS"])
    except SignatureError as exc:
        if not cfg["ALLOW_UNSIGNED_WEBHOOKS"]:
            return _reject(exc.reason, 401, str(exc), body, len(body))
        log.warning("UNSIGNED delivery accepted (development flag) reason=%s", exc.reason)

    parsed = parse_body(body)
    version = request.headers.get("X-Cal-Webhook-Version")
    try:
        result = delivery_store().store(body, parsed, webhook_version=version,
                                        secret_index=secret_index)
    except SpoolFull as exc:
        # neither the database nor the disk can take it: an error status, so Cal.com
        # shows the delivery as failed (it does not retry; the owner can see it there)
        log.error("delivery NOT stored sha=%s: the database is unavailable and %s",
                  body_hash(body)[:12], exc.strerror)
        return jsonify({"status": "unavailable",
                        "error": "the receiver cannot store deliveries right now"}), 503
    if result is None:
        return jsonify({"status": "spooled"}), 202

    log.info("delivery %s trigger=%r event_id=%s sha=%s", result.status,
             storable_trigger(parsed.trigger_event), result.event_id, result.body_sha256[:12])
    mimetype = request.mimetype or ""
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        return jsonify({
            "status": result.status,
            "error": f"content type {mimetype!r} is not JSON. {TEMPLATE_HINT}",
        }), 415
    if not parsed.is_event:
        return jsonify({"status": result.status,
                        "error": f"{parsed.detail}. {TEMPLATE_HINT}"}), 400
    answer: dict[str, Any] = {"status": result.status}
    if result.parse_error:
        answer["warning"] = result.parse_error
    return jsonify(answer), 200


@webhooks.get("/healthz")
def healthz():
    """200 while deliveries are durable (in Postgres, or in the spool while it is not)
    and the spool is draining; the body says which, how many deliveries wait in the
    spool and for how long, and how many were set aside. 503 when a delivery could not
    be kept (the database is unavailable and the spool cannot be written) or when the
    spool has not drained for SPOOL_MAX_AGE_SECONDS although the database answers."""
    store = delivery_store()
    if not store.database_down:
        try:
            store.run(lambda conn: conn.execute("select 1"))
        except DatabaseUnavailable:
            pass
    health = store.health()
    accepting = health.database == "reachable" or health.spool_writable
    stuck = (health.database == "reachable" and health.spool_oldest_seconds is not None
             and health.spool_oldest_seconds > float(current_app.config["SPOOL_MAX_AGE_SECONDS"]))
    ok = accepting and health.spool_writable and not stuck
    problems = []
    if not health.spool_writable:
        problems.append("the spool cannot be written")
    if stuck:
        problems.append(f"a delivery has waited {health.spool_oldest_seconds:.0f} s in the "
                        "spool although the database answers")
    if health.spool_unreadable:
        problems.append(f"{health.spool_unreadable} spooled deliveries were set aside "
                        "(booking-report drain-spool lists them)")
    return jsonify({
        "status": ("ok" if health.database == "reachable" else "degraded") if ok
        else "not_ok",
        "accepting_deliveries": accepting,
        "database": health.database,
        "database_problem": health.reason,
        "spool_depth": health.spool_depth,
        "spool_oldest_seconds": (round(health.spool_oldest_seconds, 1)
                                 if health.spool_oldest_seconds is not None else None),
        "spool_writable": health.spool_writable,
        "spool_unreadable": health.spool_unreadable,
        "problems": problems,
    }), 200 if ok else 503


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Defaults, then environment variables, then ``test_config``."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(config_from_env())
    if test_config:
        app.config.update(test_config)
    validate_config(app.config)
    if app.config["ALLOW_UNSIGNED_WEBHOOKS"]:
        log.warning("!!! ALLOW_UNSIGNED_WEBHOOKS is on: unsigned Cal.com deliveries are "
                    "accepted. Never use this in production. !!!")
    app.extensions["delivery_store"] = DeliveryStore(
        app.config["DATABASE_URL"], app.config["SPOOL_DIR"],
        deadline=float(app.config["DB_DEADLINE_SECONDS"]),
        probe_interval=float(app.config["DB_PROBE_SECONDS"]))
    app.register_blueprint(webhooks)
    webauth.configure(app)
    app.register_blueprint(review)
    return app
