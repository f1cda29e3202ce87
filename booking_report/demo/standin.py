"""A local stand-in for Cal.com's API v2 bookings list, serving a scenario's truth.

Shaped like the documented responses of both versions: ``{"status": "success", "data":
[...], "pagination": {...}}`` with ``nextCursor`` / ``hasMore`` (2026-05-01, ``limit`` ≤
100, ``cursor``) or ``totalItems`` … ``hasNextPage`` (2024-08-13, ``take`` ≤ 250,
``skip``); error bodies ``{"status": "error", "error": {"code", "message"}}``; the
rate-limit headers. Filters: ``afterCreatedAt``, ``afterUpdatedAt``. Faults can be
queued (429 with Retry-After, 5xx, a malformed page) for the tests. It only answers
GET, on 127.0.0.1; the demo and the tests start it in a thread.
"""

from __future__ import annotations

import base64
import math
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

VERSIONS = ("2026-05-01", "2024-08-13")
RATE_LIMIT = 120


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _error(status: int, code: str, message: str):
    return jsonify({"status": "error", "timestamp": datetime.now().isoformat(),
                    "path": request.path, "error": {"code": code, "message": message}}), status


def create_standin(bookings: Callable[[], list[dict[str, Any]]], *, api_key: str) -> Flask:
    """``bookings()`` returns the booking objects to serve (read on every request, so a
    test can change the truth between syncs)."""
    app = Flask("calcom_standin")
    app.config["faults"] = []  # [(kind, value)], consumed one per request
    app.config["requests"] = []  # every request's query parameters and version

    @app.get("/v2/bookings")
    def list_bookings():
        version = request.headers.get("cal-api-version", "")
        app.config["requests"].append({"version": version, **request.args.to_dict()})
        if request.headers.get("Authorization") != f"Bearer {api_key}":
            return _error(401, "UnauthorizedException", "Invalid API Key")
        if app.config["faults"]:
            kind, value = app.config["faults"].pop(0)
            if kind == "status":
                response = _error(value, "ThrottlerException" if value == 429 else
                                  "InternalServerErrorException", "injected fault")
                if value == 429:
                    response[0].headers["Retry-After"] = "1"
                return response
            if kind == "malformed":
                return Response("<html>Bad gateway</html>", status=200, mimetype="text/html")
        if version not in VERSIONS:
            return _error(400, "BadRequestException",
                          f"cal-api-version {version!r} is not supported here")
        rows = list(bookings())
        after_created = _instant(request.args.get("afterCreatedAt"))
        after_updated = _instant(request.args.get("afterUpdatedAt"))
        if after_created:
            rows = [b for b in rows if _instant(b.get("createdAt")) and
                    _instant(b["createdAt"]) >= after_created]
        if after_updated:
            rows = [b for b in rows if _instant(b.get("updatedAt")) and
                    _instant(b["updatedAt"]) >= after_updated]
        if version == "2026-05-01":
            rows.sort(key=lambda b: (b.get("createdAt") or "", b.get("uid") or ""))
            limit = int(request.args.get("limit", 100))
            if limit > 100:
                return _error(400, "BadRequestException", "limit must not be greater than 100")
            cursor = request.args.get("cursor")
            start = int(base64.urlsafe_b64decode(cursor).decode()) if cursor else 0
            page = rows[start:start + limit]
            more = start + limit < len(rows)
            body = {"status": "success", "data": page, "pagination": {
                "nextCursor": base64.urlsafe_b64encode(str(start + limit).encode()).decode()
                if more else None, "hasMore": more}}
        else:
            if request.args.get("sortUpdatedAt") == "asc":
                rows.sort(key=lambda b: (b.get("updatedAt") or b.get("createdAt") or "",
                                         b.get("uid") or ""))
            take = int(request.args.get("take", 100))
            if take > 250:
                return _error(400, "BadRequestException", "take must not be greater than 250")
            skip = int(request.args.get("skip", 0))
            page = rows[skip:skip + take]
            body = {"status": "success", "data": page, "pagination": {
                "totalItems": len(rows), "remainingItems": max(0, len(rows) - skip - len(page)),
                "returnedItems": len(page), "itemsPerPage": take,
                "currentPage": skip // take + 1 if take else 1,
                "totalPages": math.ceil(len(rows) / take) if take else 1,
                "hasNextPage": skip + len(page) < len(rows), "hasPreviousPage": skip > 0}}
        response = jsonify(body)
        response.headers["X-RateLimit-Limit"] = str(RATE_LIMIT)
        response.headers["X-RateLimit-Remaining"] = str(RATE_LIMIT - 1)
        response.headers["X-RateLimit-Reset"] = "60"
        return response

    return app


class StandinServer:
    """The stand-in on 127.0.0.1 in a thread: ``with StandinServer(app) as api: api.url``."""

    def __init__(self, app: Flask):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> StandinServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(5)
