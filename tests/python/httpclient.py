"""A tiny real-HTTP client for tests (urllib, no redirects followed)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from ingest.signature import sign


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self):
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def request(url: str, *, method: str = "GET", body: bytes | None = None,
            headers: dict[str, str] | None = None) -> Response:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _opener.open(req, timeout=30) as resp:
            return Response(resp.status, resp.read(), dict(resp.headers))
    except urllib.error.HTTPError as err:
        return Response(err.code, err.read(), dict(err.headers))


def post_webhook(base_url: str, body: bytes, secret: str | None = None, *,
                 signature: str | None = None, path: str = "/webhooks/calcom",
                 content_type: str | None = "application/json",
                 version: str | None = "2021-10-20") -> Response:
    headers: dict[str, str] = {}
    if content_type:
        headers["Content-Type"] = content_type
    if version:
        headers["X-Cal-Webhook-Version"] = version
    if signature is None and secret is not None:
        signature = sign(body, secret)
    if signature is not None:
        headers["X-Cal-Signature-256"] = signature
    return request(base_url + path, method="POST", body=body, headers=headers)
