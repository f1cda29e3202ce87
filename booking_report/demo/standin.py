"""A local stand-in for Cal.com's API v2 bookings list, serving a scenario's truth.

Shaped like the documented responses of both versions: ``{"status": "success", "data":
[...], "pagination": {...}}`` with ``nextCursor`` / ``hasMore`` (2026-05-01, ``limit`` ≤
100, ``cursor``) or ``totalItems`` … ``hasNextPage`` (2024-08-13, ``take`` ≤ 250,
``skip``); error bodies ``{"status": "error", "error": {"code", "message"}}``. Filters:
``afterCreatedAt``, ``afterUpdatedAt``, ``afterStart``, ``beforeEnd``.

It throttles as Cal.com's API v2 does (``apps/api/v2/src/lib/throttler-guard.ts``): per
key, ``limit`` requests per ``window`` seconds (120 per 60), then the key is blocked for
``block`` seconds (60); every answer carries ``X-RateLimit-Limit-Default``,
``X-RateLimit-Remaining-Default`` and ``X-RateLimit-Reset-Default`` (seconds to the end
of the window or the block); a 429 carries no ``Retry-After``. Faults can be queued (a
429 with Retry-After, 5xx, a malformed page, the 2024-04-15 list of a Cal.diy that does
not know the version) for the tests. It only answers GET, on 127.0.0.1; the demo and the
tests start it in a thread.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

VERSIONS = ("2026-05-01", "2024-08-13")
RATE_LIMIT, RATE_WINDOW, RATE_BLOCK = 120, 60.0, 60.0


class Throttle:
    """Cal.com's per-key limit: `limit` requests per `window` seconds, then a block."""

    def __init__(self, limit: int = RATE_LIMIT, window: float = RATE_WINDOW,
                 block: float = RATE_BLOCK):
        self.limit, self.window, self.block = limit, window, block
        self.started = time.monotonic()
        self.used = 0
        self.blocked_until = 0.0
        self.blocks = 0
        self.lock = threading.Lock()

    def take(self) -> tuple[bool, int, float]:
        """(allowed, remaining, seconds to reset)."""
        with self.lock:
            now = time.monotonic()
            if now < self.blocked_until:
                return False, 0, self.blocked_until - now
            if now - self.started >= self.window:
                self.started, self.used = now, 0
            self.used += 1
            if self.used > self.limit:
                self.blocked_until = now + self.block
                self.blocks += 1
                return False, 0, self.block
            return True, self.limit - self.used, self.window - (now - self.started)


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
    app.config["throttle"] = Throttle()

    def limit_headers(response, remaining: int, reset: float):
        throttle = app.config["throttle"]
        response.headers["X-RateLimit-Limit-Default"] = str(throttle.limit)
        response.headers["X-RateLimit-Remaining-Default"] = str(max(0, remaining))
        response.headers["X-RateLimit-Reset-Default"] = str(math.ceil(reset))
        return response

    @app.get("/v2/bookings")
    def list_bookings():
        version = request.headers.get("cal-api-version", "")
        app.config["requests"].append({"version": version, **request.args.to_dict()})
        if request.headers.get("Authorization") != f"Bearer {api_key}":
            return _error(401, "UnauthorizedException", "Invalid API Key")
        allowed, remaining, reset = app.config["throttle"].take()
        if not allowed:
            body, status = _error(429, "ThrottlerException", "Too Many Requests")
            return limit_headers(body, 0, reset), status
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
            if kind == "v2024_04_15":
                return jsonify({"status": "success", "data": {
                    "bookings": [], "recurringInfo": [], "nextCursor": None}})
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
        after_start = _instant(request.args.get("afterStart"))
        before_end = _instant(request.args.get("beforeEnd"))
        if after_start:
            rows = [b for b in rows if _instant(b.get("start")) and
                    _instant(b["start"]) >= after_start]
        if before_end:
            rows = [b for b in rows if _instant(b.get("end")) and
                    _instant(b["end"]) <= before_end]
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
        return limit_headers(jsonify(body), remaining, reset)

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        """The stand-in's requests are not news (the sync prints its own progress)."""


class StandinServer:
    """The stand-in on 127.0.0.1 in a thread: ``with StandinServer(app) as api: api.url``."""

    def __init__(self, app: Flask):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True,
                                  request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> StandinServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(5)
