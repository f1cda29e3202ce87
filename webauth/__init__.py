"""Login and CSRF shared by the receiver's review endpoint and the report page.

Its own package so that `ingest` (write path) and `report` (read path) can both use
it without importing each other. The contract between them is the Flask session:
``session["user"]`` after a login, ``session["csrf_token"]`` for forms.
"""

from __future__ import annotations

import hmac
import secrets
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
    app.register_blueprint(bp)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_user"] = current_user


def current_user() -> str | None:
    if not current_app.config.get("REQUIRE_LOGIN"):
        return session.get("user") or "local"
    return session.get("user")


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
    next_url = _safe_next(request.values.get("next"))
    if request.method == "POST":
        check_csrf()
        user = request.form.get("username", "")
        password = request.form.get("password", "")
        cfg = current_app.config
        expected_user = str(cfg.get("REPORT_USER") or "")
        valid_user = hmac.compare_digest(user.encode(), expected_user.encode())
        stored = str(cfg.get("REPORT_PASSWORD_HASH") or "")
        valid_password = bool(stored) and check_password_hash(stored, password)
        if expected_user and valid_user and valid_password:
            session.clear()
            session["user"] = user
            return redirect(next_url, code=303)
        error = "Wrong user or password."
    return render_template("auth/login.html", error=error, next=next_url), (
        401 if error else 200)


@bp.post("/logout")
def logout():
    check_csrf()
    session.clear()
    return redirect(url_for("auth.login"), code=303)
