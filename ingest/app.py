"""The Cal.com webhook receiver (Flask app factory).

Verify, store, commit, then answer: a 2xx means the body is durable (in Postgres,
or in the local spool when Postgres is briefly unreachable).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import psycopg
from flask import Blueprint, Flask, current_app, jsonify, request
from psycopg_pool import PoolTimeout

import webauth
from ingest import spool
from ingest.pool import get_pool
from ingest.review import review
from ingest.signature import SignatureError, verify
from ingest.store import body_hash, parse_body, record_rejection, store_event

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
    "DB_RETRY_SECONDS": 1.5,
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


def _reject(reason: str, status: int, message: str, body: bytes | None,
            size: int | None) -> tuple[Any, int]:
    digest = body_hash(body) if body is not None else None
    try:
        with get_pool().connection() as conn:
            record_rejection(conn, reason=reason, status_code=status, body_size=size,
                             body_sha256=digest, remote_addr=_remote())
    except (psycopg.Error, PoolTimeout):
        log.warning("could not record rejection reason=%s (database unavailable)", reason)
    log.warning("delivery refused reason=%s status=%d size=%s remote=%s",
                reason, status, size, _remote())
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
    result = _store_durably(body, parsed, version, secret_index)
    if result is None:
        spool.write(Path(cfg["SPOOL_DIR"]), body, webhook_version=version,
                    secret_index=secret_index)
        log.error("database unavailable: delivery spooled sha=%s", body_hash(body)[:12])
        return jsonify({"status": "spooled"}), 202

    log.info("delivery %s trigger=%s event_id=%s sha=%s", result.status,
             parsed.trigger_event, result.event_id, result.body_sha256[:12])
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


def _store_durably(body, parsed, version, secret_index):
    """Store and commit, retrying briefly; None when the database stays unreachable."""
    cfg = current_app.config
    deadline = time.monotonic() + float(cfg["DB_RETRY_SECONDS"])
    while True:
        try:
            with get_pool().connection() as conn:
                result = store_event(conn, body, parsed, webhook_version=version,
                                     secret_index=secret_index, source="webhook")
            # leaving the block committed the transaction
            _maybe_drain_spool()
            return result
        except (psycopg.Error, PoolTimeout) as exc:
            # any database failure (down, permissions, disk full…): retry, then spool;
            # an authenticated delivery is never answered with an error and dropped
            log.warning("database write failed: %s", type(exc).__name__)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.25)


def _maybe_drain_spool() -> None:
    spool_dir = Path(current_app.config["SPOOL_DIR"])
    if spool.pending(spool_dir):
        try:
            spool.drain(spool_dir, current_app.config["DATABASE_URL"])
        except psycopg.Error:
            log.warning("spool drain deferred: database error")


@webhooks.get("/healthz")
def healthz():
    try:
        with get_pool().connection() as conn:
            conn.execute("select 1")
        return jsonify({"status": "ok", "database": "reachable"}), 200
    except (psycopg.Error, PoolTimeout):
        return jsonify({"status": "error", "database": "unreachable"}), 503


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
    app.register_blueprint(webhooks)
    webauth.configure(app)
    app.register_blueprint(review)
    return app
