"""Parse an authenticated body and land it in ``raw.calcom_webhook_events``.

The exact bytes are always stored. The parsed document goes into ``payload`` when
Postgres accepts it as ``jsonb``; otherwise ``payload`` is null and ``parse_error``
says why. Deliveries are deduplicated on the SHA-256 of the raw body.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import psycopg

# Parse outcomes that make the body unusable as a Cal.com event (answered with 400).
NOT_JSON = "not_json"
NOT_OBJECT = "not_object"
NO_TRIGGER = "no_trigger_event"


@dataclass(frozen=True)
class ParsedBody:
    document: Any | None  # the decoded JSON value, if any
    text: str | None  # the body decoded as UTF-8, if it was valid UTF-8 JSON
    trigger_event: str | None
    problem: str | None  # NOT_JSON / NOT_OBJECT / NO_TRIGGER, or None
    detail: str | None  # human-readable reason for parse_error

    @property
    def is_event(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class StoreResult:
    status: str  # "stored" or "duplicate"
    event_id: int | None
    body_sha256: str
    parse_error: str | None


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


# a trigger longer than this is not one of Cal.com's (the column is a convenience; the
# models read the trigger from the stored body)
TRIGGER_MAX = 255


def storable_trigger(trigger: str | None) -> str | None:
    """The trigger for the raw `trigger_event` column, or None when Postgres could not
    hold it as text (a NUL, a lone surrogate) or it is too long to be a trigger: the
    body is stored either way, byte for byte, and the models read the trigger from it."""
    if trigger is None or len(trigger) > TRIGGER_MAX or "\x00" in trigger:
        return None
    try:
        trigger.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return trigger


def parse_body(body: bytes) -> ParsedBody:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ParsedBody(None, None, None, NOT_JSON, f"body is not valid UTF-8: {exc}")
    try:
        document = json.loads(text)
    except ValueError as exc:
        return ParsedBody(None, None, None, NOT_JSON, f"body is not JSON: {exc}")
    except RecursionError:
        # an authentic body is stored whatever its shape; Python's parser stops at
        # about 1,000 levels of nesting
        return ParsedBody(None, None, None, NOT_JSON,
                          "body is not usable JSON: nested too deeply to parse")
    if not isinstance(document, dict):
        kind = type(document).__name__
        return ParsedBody(document, text, None, NOT_OBJECT, f"body is JSON {kind}, not an object")
    trigger = document.get("triggerEvent")
    if not isinstance(trigger, str) or not trigger.strip():
        return ParsedBody(document, text, None, NO_TRIGGER, "body has no triggerEvent")
    return ParsedBody(document, text, trigger.strip(), None, None)


INSERT_EVENT = """
insert into raw.calcom_webhook_events
    (trigger_event, raw_body, payload, parse_error, body_sha256, webhook_version,
     secret_index, source)
values (%s, %s, %s::jsonb, %s, %s, %s, %s, %s)
on conflict (body_sha256) do nothing
returning event_id
"""


def store_event(
    conn: psycopg.Connection,
    body: bytes,
    parsed: ParsedBody,
    *,
    webhook_version: str | None,
    secret_index: int | None,
    source: str,
) -> StoreResult:
    """Insert one delivery inside the caller's transaction (the caller commits).

    A body Postgres refuses as jsonb (``\\u0000``, NaN, …) is stored with a null
    payload: the bytes are kept, never dropped.
    """
    digest = body_hash(body)
    parse_error = parsed.detail
    json_text = parsed.text if parsed.document is not None else None
    trigger = storable_trigger(parsed.trigger_event)
    event_id: int | None
    try:
        with conn.transaction():  # a savepoint when a transaction is already open
            row = conn.execute(
                INSERT_EVENT,
                (trigger, body, json_text, parse_error, digest,
                 webhook_version, secret_index, source),
            ).fetchone()
    except (psycopg.errors.DataError, psycopg.errors.ProgramLimitExceeded) as exc:
        parse_error = f"payload refused by jsonb: {exc.diag.message_primary or exc}"
        with conn.transaction():
            row = conn.execute(
                INSERT_EVENT,
                (trigger, body, None, parse_error, digest,
                 webhook_version, secret_index, source),
            ).fetchone()
    event_id = row[0] if row else None
    return StoreResult("stored" if row else "duplicate", event_id, digest, parse_error)


def record_rejection(
    conn: psycopg.Connection,
    *,
    reason: str,
    status_code: int,
    body_size: int | None,
    body_sha256: str | None,
    remote_addr: str | None,
    has_signature: bool | None = None,
) -> None:
    conn.execute(
        "insert into raw.calcom_rejected_deliveries"
        " (reason, status_code, body_size, body_sha256, remote_addr, has_signature)"
        " values (%s, %s, %s, %s, %s, %s)",
        (reason, status_code, body_size, body_sha256, remote_addr, has_signature),
    )
