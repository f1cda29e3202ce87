"""A read-only client for Cal.com's API v2 bookings list (`GET /v2/bookings`).

Two contracts exist and both are supported, picked by the `cal-api-version` header:

* ``2026-05-01`` (hosted api.cal.com): ``limit`` ≤ 100 and ``cursor``; the response's
  ``pagination`` has ``nextCursor`` and ``hasMore``.
* ``2024-08-13`` (self-hosted Cal.diy and older hosted): ``take`` ≤ 250 and ``skip``;
  ``pagination`` has ``totalItems``, …, ``hasNextPage``; ``sortUpdatedAt=asc``.

Pagination hides behind one generator, :meth:`CalcomApi.pages`. Rate limits and
retries live in one place, :meth:`CalcomApi.get`:

- Cal.com's API v2 limits each key to 120 requests per 60 s, then blocks it for 60 s
  (``apps/api/v2/src/lib/throttler-guard.ts``, ``blockDuration: 60``). It answers every
  request with ``X-RateLimit-Limit-Default``, ``X-RateLimit-Remaining-Default`` and
  ``X-RateLimit-Reset-Default`` (seconds to the end of the window, or of the block), and
  a 429 with no ``Retry-After``. The client keeps its own budget below the key's limit
  (other tools may share the key; default 90 a minute), waits out the window when
  ``Remaining`` runs out, and on a 429 waits ``Reset`` seconds (at most two minutes,
  one line saying so) and goes on: a sync through a block finishes.
- 5xx and timeouts are retried with back-off.

Errors are typed and say what to do. The key goes into the ``Authorization`` header and
nowhere else (never a log line, never an error message).
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger("booking_report.ingest.calcom_api")

DEFAULT_BASE_URL = "https://api.cal.com"
DEFAULT_VERSION = "2026-05-01"
CURSOR, TAKE_SKIP = "cursor", "take_skip"
SUPPORTED_VERSIONS = {"2026-05-01": CURSOR, "2024-08-13": TAKE_SKIP}
PAGE_SIZE = {CURSOR: 100, TAKE_SKIP: 250}
# our own budget: below the key's 120 a minute (other tools may use the same key)
DEFAULT_REQUESTS_PER_MINUTE = 90
# the longest a rate-limit wait may be (a block is 60 s)
MAX_RATE_WAIT_SECONDS = 120.0
# 429s in a row before the run fails (each waited out)
MAX_RATE_LIMITED = 6


class CalcomApiError(RuntimeError):
    """The Cal.com API could not be read; the message says what to do."""


class ApiKeyRefused(CalcomApiError):
    pass


class UnsupportedVersion(CalcomApiError):
    pass


class MalformedPage(CalcomApiError):
    pass


def check_version(version: str) -> str:
    version = (version or "").strip()
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedVersion(
            f"CALCOM_API_VERSION {version!r} is not supported; use one of: "
            f"{', '.join(SUPPORTED_VERSIONS)} (2026-05-01 for api.cal.com, 2024-08-13 for "
            "self-hosted Cal.diy and older hosted instances)")
    return version


class CalcomApi:
    def __init__(self, base_url: str, api_key: str, version: str = DEFAULT_VERSION, *,
                 requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE, timeout: float = 30.0,
                 max_retries: int = 4, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 say: Callable[[str], None] | None = None):
        if not api_key:
            raise ApiKeyRefused("CALCOM_API_KEY is empty; create a key in Cal.com → "
                                "Settings → Developer → API keys")
        self.base_url = base_url.rstrip("/")
        self.version = check_version(version)
        self.contract = SUPPORTED_VERSIONS[self.version]
        self._key = api_key
        self.requests_per_minute = max(1, int(requests_per_minute))
        self.timeout = timeout
        self.max_retries = max_retries
        self.sleep, self.clock = sleep, clock
        self._sent: deque[float] = deque()
        self.requests = 0
        self.rate_waits: list[float] = []  # every wait for Cal.com's rate limit, seconds
        self.say = say or (lambda line: log.warning("%s", line))

    # ------------------------------------------------------------ one request

    def _respect_budget(self) -> None:
        """At most ``requests_per_minute`` requests in any 60 seconds."""
        now = self.clock()
        while self._sent and self._sent[0] <= now - 60:
            self._sent.popleft()
        if len(self._sent) >= self.requests_per_minute:
            wait = self._sent[0] + 60 - now
            log.info("Cal.com API budget reached (%d/min): waiting %.1f s",
                     self.requests_per_minute, wait)
            self.sleep(max(wait, 0))
        self._sent.append(self.clock())

    @staticmethod
    def _header(headers: Any, name: str) -> str | None:
        """Cal.com's throttler names its headers after the throttler (`-Default`);
        other proxies send the plain name."""
        if not headers:
            return None
        return headers.get(f"{name}-Default") or headers.get(name)

    @classmethod
    def _reset_seconds(cls, headers: Any) -> float | None:
        reset = cls._header(headers, "X-RateLimit-Reset")
        if not reset:
            return None
        try:
            value = float(reset)
        except ValueError:
            return None
        # seconds from now (Cal.com), or an epoch time (some proxies)
        return max(0.0, value - time.time()) if value > 1e9 else max(0.0, value)

    @classmethod
    def _wait_from_headers(cls, headers: Any, attempt: int) -> float:
        retry_after = headers.get("Retry-After") if headers else None
        if retry_after:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                when = email.utils.parsedate_to_datetime(retry_after)
                if when is not None:
                    return max(0.0, when.timestamp() - time.time())
        reset = cls._reset_seconds(headers)
        if reset is not None:
            return reset
        return min(60.0, 2.0 ** attempt)

    def _rate_wait(self, seconds: float, why: str) -> None:
        seconds = min(MAX_RATE_WAIT_SECONDS, max(0.0, seconds))
        self.rate_waits.append(seconds)
        self.say(f"Cal.com's rate limit: {why}; waiting {seconds:.0f} s, then going on")
        self.sleep(seconds)

    def _pace(self, headers: Any) -> None:
        """After an answer: when the key has no request left in this window, wait for
        the window to end (Cal.com would block the key for a minute instead)."""
        remaining = self._header(headers, "X-RateLimit-Remaining")
        try:
            left = int(remaining) if remaining is not None else None
        except ValueError:
            left = None
        if left is not None and left <= 0:
            self._rate_wait(self._reset_seconds(headers) or 60.0,
                            "no request left in this window")

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        attempt = limited = 0
        while True:
            self._respect_budget()
            request = urllib.request.Request(url, method="GET", headers={
                "Authorization": f"Bearer {self._key}", "cal-api-version": self.version,
                "Accept": "application/json", "User-Agent": "booking-report (read-only sync)"})
            self.requests += 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                    raw = resp.read()
                    headers = resp.headers
            except urllib.error.HTTPError as err:
                detail = _error_message(err.read())
                if err.code in (401, 403):
                    why = f"{err.code}: {detail}" if detail else str(err.code)
                    raise ApiKeyRefused(
                        f"Cal.com refused the API key ({why}); create one in Cal.com → "
                        "Settings → Developer → API keys and set CALCOM_API_KEY") from None
                if err.code == 429:
                    # over the key's limit, or blocked: wait the window (or the block) out
                    limited += 1
                    if limited > MAX_RATE_LIMITED:
                        raise CalcomApiError(
                            f"Cal.com answered 429 {limited} times in a row for {path}; "
                            "another tool may be using the same API key: try again later, "
                            "or lower CALCOM_API_REQUESTS_PER_MINUTE") from None
                    self._rate_wait(self._wait_from_headers(err.headers, attempt),
                                    "429 Too Many Requests")
                    continue
                if err.code >= 500:
                    if attempt == self.max_retries:
                        raise CalcomApiError(
                            f"Cal.com answered {err.code} {attempt + 1} times for {path}"
                            f"{': ' + detail if detail else ''}; try again later") from None
                    wait = self._wait_from_headers(err.headers, attempt)
                    log.warning("Cal.com answered %d; waiting %.1f s before retrying",
                                err.code, wait)
                    self.sleep(wait)
                    attempt += 1
                    continue
                raise CalcomApiError(f"Cal.com answered {err.code} for {path}"
                                     f"{': ' + detail if detail else ''}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                if attempt == self.max_retries:
                    reason = getattr(err, "reason", err)
                    raise CalcomApiError(f"cannot reach Cal.com at {self.base_url} ({reason}); "
                                         "check CALCOM_API_URL and the network") from None
                self.sleep(min(30.0, 2.0 ** attempt))
                attempt += 1
                continue
            self._pace(headers)
            try:
                doc = json.loads(raw)
            except ValueError:
                raise MalformedPage(f"Cal.com's answer for {path} is not JSON") from None
            if not isinstance(doc, dict):
                raise MalformedPage(f"Cal.com's answer for {path} is not a JSON object")
            if doc.get("status") == "error":
                raise CalcomApiError(f"Cal.com reported an error for {path}: "
                                     f"{_error_message(raw) or 'no detail'}")
            return doc

    # ------------------------------------------------------------ all pages

    def pages(self, filters: dict[str, Any]) -> Iterator[list[Any]]:
        """The booking objects of every page of ``GET /v2/bookings`` for ``filters``
        (afterUpdatedAt, …), one list per page."""
        size = PAGE_SIZE[self.contract]
        cursor: str | None = None
        number = 0
        while True:
            if self.contract == CURSOR:
                params = {**filters, "limit": size, "cursor": cursor}
            else:
                params = {**filters, "take": size, "skip": number * size,
                          "sortUpdatedAt": "asc"}
            doc = self.get("/v2/bookings", params)
            data = doc.get("data")
            pagination = doc.get("pagination")
            if isinstance(data, dict) and "bookings" in data:
                # Cal.diy sends a cal-api-version it does not know to its 2024-04-15
                # controller, whose list is {"data": {"bookings": [...], ...}}
                raise UnsupportedVersion(
                    f"this Cal.com does not know cal-api-version {self.version} and answered "
                    "with its 2024-04-15 list; set CALCOM_API_VERSION=2024-08-13 (self-hosted "
                    "Cal.diy and older hosted instances)")
            if not isinstance(data, list) or not isinstance(pagination, dict):
                raise MalformedPage(
                    f"page {number + 1} of /v2/bookings has no data list or no pagination "
                    f"(is CALCOM_API_VERSION {self.version} right for this Cal.com? "
                    f"{', '.join(SUPPORTED_VERSIONS)} are supported)")
            number += 1
            yield data
            if self.contract == CURSOR:
                cursor = pagination.get("nextCursor")
                if not pagination.get("hasMore") or not cursor:
                    return
            else:
                if not pagination.get("hasNextPage"):
                    return
                if not data:
                    raise MalformedPage(f"page {number} is empty but says hasNextPage")


def _error_message(raw: bytes) -> str:
    try:
        doc = json.loads(raw)
    except ValueError:
        return ""
    if isinstance(doc, dict):
        error = doc.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error.get("code") or "")[:200]
        if isinstance(error, str):
            return error[:200]
        if isinstance(doc.get("message"), str):
            return doc["message"][:200]
    return ""
