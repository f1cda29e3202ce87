"""Login and CSRF shared by the receiver's review endpoint and the report page.

Its own package so that `ingest` (write path) and `report` (read path) can both use
it without importing each other. The contract between them is the Flask session:
``session["sid"]`` (a server-side session, see ``Sessions``) after a login,
``session["csrf_token"]`` for forms.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.security import check_password_hash, generate_password_hash

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

# failed sign-ins allowed per window before "try again in N s"
FAILURES_PER_ADDRESS = 5
FAILURES_PER_USER = 10
FAILURE_WINDOW_SECONDS = 300
# password hashes checked at once: a login flood must not eat the CPU that stores
# webhook deliveries (a hash costs tens of milliseconds on purpose)
PASSWORD_CHECKS_AT_ONCE = 2
SESSION_HOURS = 12


class LoginThrottle:
    """Failed sign-ins, in a sliding window, in bounded memory.

    - per address: at most ``per_address`` failures, then that address waits;
    - per user name: after ``per_user`` failures (from any addresses) the name is held,
      but only for the addresses that failed for it. A stranger who spends the name's
      failures from ten addresses cannot lock its owner out: the owner signs in from an
      address that never failed.

    At most ``max_keys`` addresses and as many names are remembered (the least recently
    failed are forgotten first), each with at most its limit of times and a name with
    at most ``max_addresses_per_user`` failed addresses: a flood of distinct names or
    addresses cannot grow the memory without bound.
    """

    def __init__(self, per_address: int = FAILURES_PER_ADDRESS,
                 per_user: int = FAILURES_PER_USER, window: float = FAILURE_WINDOW_SECONDS,
                 max_keys: int = 10_000, max_addresses_per_user: int = 64):
        self.per_address, self.per_user, self.window = per_address, per_user, window
        self.max_keys, self.max_addresses_per_user = max_keys, max_addresses_per_user
        self._addresses: OrderedDict[str, deque[float]] = OrderedDict()
        self._users: OrderedDict[str, tuple[deque[float], OrderedDict[str, float]]] = \
            OrderedDict()
        self._lock = threading.Lock()
        self.checks = threading.BoundedSemaphore(PASSWORD_CHECKS_AT_ONCE)

    def _trim(self, times: deque[float], now: float) -> deque[float]:
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, address: str, user: str) -> int:
        """Seconds to wait before another try (0: allowed now)."""
        now = time.monotonic()
        wait = 0.0
        name = user.lower()
        with self._lock:
            times = self._addresses.get(address)
            if times is not None and len(self._trim(times, now)) >= self.per_address:
                wait = max(wait, times[-self.per_address] + self.window - now)
            entry = self._users.get(name)
            if entry is not None:
                failures, failed_from = entry
                recent = self._trim(failures, now)
                last_from_here = failed_from.get(address)
                if (len(recent) >= self.per_user and last_from_here is not None
                        and last_from_here > now - self.window):
                    wait = max(wait, recent[-self.per_user] + self.window - now)
        return math.ceil(wait)

    def failed(self, address: str, user: str) -> None:
        now = time.monotonic()
        name = user.lower()
        with self._lock:
            times = self._addresses.pop(address, None) or deque(maxlen=self.per_address)
            times.append(now)
            self._addresses[address] = times
            failures, failed_from = self._users.pop(name, None) or (
                deque(maxlen=self.per_user), OrderedDict())
            failures.append(now)
            failed_from.pop(address, None)
            failed_from[address] = now
            while len(failed_from) > self.max_addresses_per_user:
                failed_from.popitem(last=False)
            self._users[name] = (failures, failed_from)
            for table in (self._addresses, self._users):
                while len(table) > self.max_keys:
                    table.popitem(last=False)  # the least recently failed

    def succeeded(self, address: str, user: str) -> None:
        with self._lock:
            self._addresses.pop(address, None)
            self._users.pop(user.lower(), None)

    def remembered(self) -> int:
        """How many addresses and names are held (for tests of the memory bound)."""
        with self._lock:
            return len(self._addresses) + len(self._users)


class Sessions:
    """Signed cookies alone cannot be revoked: the cookie carries a random session id
    that must also be live here. Logout (or a restart) ends it for every copy."""

    def __init__(self, hours: float = SESSION_HOURS):
        self.lifetime = hours * 3600
        self._live: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def start(self, user: str) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            self._live = {k: v for k, v in self._live.items() if v[1] > now}
            self._live[sid] = (user, now + self.lifetime)
        return sid

    def user(self, sid: str | None) -> str | None:
        if not sid:
            return None
        with self._lock:
            entry = self._live.get(sid)
        if entry is None or entry[1] <= time.time():
            return None
        return entry[0]

    def end(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._live.pop(sid, None)

bp = Blueprint("auth", __name__, template_folder="templates")


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def configure(app) -> None:
    """Derive login and cookie settings from the app config; refuse unsafe setups."""
    cfg = app.config
    bind_host = str(cfg.get("BIND_HOST") or "127.0.0.1")
    local = bind_host in LOCAL_HOSTS
    cfg.setdefault("REQUIRE_LOGIN", not local)
    if not local:
        cfg["REQUIRE_LOGIN"] = True
    if cfg["REQUIRE_LOGIN"] and not (cfg.get("REPORT_USER") and cfg.get("REPORT_PASSWORD_HASH")):
        raise ValueError(
            "a login is required (the server listens beyond localhost, or REQUIRE_LOGIN is "
            "set): set BOOKING_REPORT_USER and BOOKING_REPORT_PASSWORD_HASH (make the hash "
            "with `booking-report hash-password`)")
    if not cfg.get("SECRET_KEY"):
        # one key per server start (every request thread of the process shares it)
        cfg["SECRET_KEY"] = secrets.token_hex(32)
    insecure = bool(cfg.get("ALLOW_INSECURE_COOKIES"))
    cfg["SESSION_COOKIE_HTTPONLY"] = True
    cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
    cfg["SESSION_COOKIE_SECURE"] = not (local or insecure)
    app.extensions["login_throttle"] = LoginThrottle()
    app.extensions["login_sessions"] = Sessions()
    app.register_blueprint(bp)
    app.before_request(_check_host)
    app.after_request(_security_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_user"] = current_user


# the parts of the app that show or change the report: without a login (a server on
# localhost) they answer only to a localhost Host, so a web page elsewhere cannot reach
# them through DNS rebinding (its name pointed at 127.0.0.1). The webhook receiver is
# not among them: Cal.com posts with the public name a proxy forwards.
GUARDED_BLUEPRINTS = {"report", "review", "auth"}


def host_name(host: str) -> str:
    """The name of a Host header without its port: `localhost:8000` → `localhost`,
    `[::1]:8000` → `::1`."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _check_host():
    if current_app.config.get("REQUIRE_LOGIN") or request.blueprint not in GUARDED_BLUEPRINTS:
        return None
    if host_name(request.host or "").lower() not in LOCAL_HOSTS:
        abort(421, description="this report answers only to localhost without a login; set "
                               "BOOKING_REPORT_REQUIRE_LOGIN (and a user) to reach it by "
                               "another name")
    return None


# no framing (clickjacking of "Confirm" and "Undo"), no scripts, nothing from elsewhere:
# the page works without JavaScript and inlines its styles and its chart
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; "
                                "img-src 'self' data:; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def item_anchor(booking_id: str) -> str:
    """The page's anchor for a booking's row in the review queue (a booking id may hold
    any character; the anchor only letters and digits): where a confirmation returns."""
    return "item-" + hashlib.sha256(booking_id.encode()).hexdigest()[:16]


def current_user() -> str | None:
    user = current_app.extensions["login_sessions"].user(session.get("sid"))
    if not current_app.config.get("REQUIRE_LOGIN"):
        return user or "local"
    return user


def csrf_token() -> str:
    token = session.get("csrf_token")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf_token"] = token
    return token


def check_csrf() -> None:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf_token") or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(403, description="missing or invalid CSRF token: reload the page and try again")


def login_required(view):
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        if current_user() is None:
            if request.method == "GET":
                return redirect(url_for("auth.login", next=request.full_path))
            abort(401, description="log in first")
        return view(*args, **kwargs)
    return wrapper


def _safe_next(target: str | None) -> str:
    if not target:
        return "/report"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return "/report"
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    status = 200
    headers: dict[str, str] = {}
    next_url = _safe_next(request.values.get("next"))
    if request.method == "POST":
        check_csrf()
        user = request.form.get("username", "")[:200]
        password = request.form.get("password", "")[:1000]
        address = request.remote_addr or "unknown"
        throttle: LoginThrottle = current_app.extensions["login_throttle"]
        wait = throttle.retry_after(address, user)
        if wait:
            error = f"Too many failed sign-ins. Try again in {wait} s."
            status, headers = 429, {"Retry-After": str(wait)}
        elif not throttle.checks.acquire(blocking=False):
            error = "Too many sign-ins at once. Try again in 1 s."
            status, headers = 429, {"Retry-After": "1"}
        else:
            try:
                cfg = current_app.config
                expected_user = str(cfg.get("REPORT_USER") or "")
                valid_user = hmac.compare_digest(user.encode(), expected_user.encode())
                stored = str(cfg.get("REPORT_PASSWORD_HASH") or "")
                valid_password = bool(stored) and check_password_hash(stored, password)
            finally:
                throttle.checks.release()
            if expected_user and valid_user and valid_password:
                throttle.succeeded(address, user)
                session.clear()
                session["sid"] = current_app.extensions["login_sessions"].start(user)
                return redirect(next_url, code=303)
            throttle.failed(address, user)
            error, status = "Wrong user or password.", 401
    return render_template("auth/login.html", error=error, next=next_url), status, headers


@bp.post("/logout")
def logout():
    check_csrf()
    current_app.extensions["login_sessions"].end(session.get("sid"))
    session.clear()
    return redirect(url_for("auth.login"), code=303)
