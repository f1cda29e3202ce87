"""Cal.com webhook signature verification.

Cal.com signs a delivery with ``X-Cal-Signature-256``: the lowercase hex HMAC-SHA256 of
the exact raw body, keyed with the webhook secret. There is no timestamp and no
delivery id. With no secret configured on the Cal.com side the header carries the
literal ``no-secret-provided``.

This module is a pure function over bytes and header values: no web framework.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

NO_SECRET_SENTINEL = "no-secret-provided"


class SignatureError(Exception):
    """The delivery could not be authenticated. ``reason`` is a short machine code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def sign(body: bytes, secret: str) -> str:
    """Return the signature Cal.com would send for ``body`` under ``secret``."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secrets: Sequence[str]) -> int:
    """Check ``header`` against every configured secret; return the matching index.

    Every secret is compared (no early exit on the first miss) with
    ``hmac.compare_digest`` so timing does not reveal which secret nearly matched.
    Hex is compared case-insensitively. Raises ``SignatureError`` otherwise.
    """
    if header is None or header.strip() == "":
        raise SignatureError("missing_signature", "X-Cal-Signature-256 header is missing")
    candidate = header.strip().lower()
    if candidate == NO_SECRET_SENTINEL:
        raise SignatureError(
            "no_secret_provided",
            "Cal.com sent 'no-secret-provided': set a secret on the Cal.com webhook",
        )
    if not secrets:
        raise SignatureError("no_secret_configured", "the receiver has no webhook secret")
    matched = -1
    for index, secret in enumerate(secrets):
        expected = sign(body, secret)
        if hmac.compare_digest(expected.encode("ascii"), candidate.encode("utf-8", "replace")):
            if matched < 0:
                matched = index
    if matched < 0:
        raise SignatureError("bad_signature", "X-Cal-Signature-256 does not match any secret")
    return matched
