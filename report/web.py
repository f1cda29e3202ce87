"""The weekly status page (server-rendered; reads only the marts)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import psycopg
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from report import data as reportdata
from report import wording
from report.chart import trend_svg
from report.connections import page_connection
from report.refresher import RefreshWorker
from report.terminal import as_csv, render
from webauth import check_csrf, item_anchor, login_required

log = logging.getLogger("booking_report.report")

bp = Blueprint("report", __name__, template_folder="templates")


def _dsn() -> str:
    cfg = current_app.config
    return cfg.get("REPORT_DATABASE_URL") or cfg["DATABASE_URL"]


def _load() -> reportdata.ReportData:
    try:
        return reportdata.load_report(
            _dsn(), week=request.args.get("week") or None,
            source=request.args.get("source") or None, by=request.args.get("by") or None,
            review_week_only=request.args.get("review") != "all",
            review_page=_page_number(request.args.get("page")),
            reporting=current_app.config.get("REPORTING_SCHEMA", "reporting"),
            private=current_app.config.get("REPORTING_PRIVATE_SCHEMA", "reporting_private"),
            connection=page_connection)
    except reportdata.MartsNotBuilt:
        return reportdata.ReportData(None, "all", None, None)
    except reportdata.ReportError as exc:
        abort(400, description=str(exc))
    except psycopg.OperationalError:
        log.warning("report page: database unreachable")
        abort(503, description="The report's database cannot be reached right now. "
                               "Webhook deliveries are still being received and kept; "
                               "try this page again in a minute.")


def _page_number(text: str | None) -> int:
    """The review queue's page (1-based in the address, 0-based here)."""
    try:
        return max(0, int(text or 1) - 1)
    except ValueError:
        abort(400, description=f"page {text!r} is not a page number")


def _wants_json() -> bool:
    return request.path.endswith(".json") or (
        request.accept_mimetypes.best == "application/json")


def error_page(exc: HTTPException):
    """Plain-language error pages: HTML for people, JSON for /report.json and API clients."""
    code = exc.code or 500
    if _wants_json():
        return jsonify({"status": "error", "code": code, "error": exc.description}), code
    titles = {400: "That is not in this report", 401: "Please sign in",
              403: "Not allowed", 404: "Not found", 413: "Too large",
              429: "Too many attempts", 503: "The report is unavailable for a moment"}
    return render_template("error.html", code=code, title=titles.get(code, exc.name),
                           message=exc.description), code


def refresh_worker() -> RefreshWorker:
    """This app's refresh worker ("running" from the moment it is asked until it
    answers): one per app, so two apps in one process never share one."""
    return current_app.extensions["refresh_worker"]


def _same_view(target: str | None) -> str:
    """Back to the page the owner was on (its week and source), never off-site."""
    if not target or not target.startswith("/report") or target.startswith("//"):
        return url_for("report.page")
    return target


def safe_filename(text: str) -> str:
    """Letters, digits, dot, dash and underscore only (a source name is user data)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:120] or "booking-report"


def refresh_state() -> dict[str, Any]:
    # the refresh's advisory lock, as pg_locks shows a bigint key: given by whoever
    # registers the page (the report package imports nothing of the CLI's)
    key = int(current_app.config["REFRESH_LOCK_KEY"])
    classid, objid = key >> 32, key & 0xFFFFFFFF
    try:
        with page_connection(_dsn(), settings=reportdata.READ_SETTINGS,
                             connect_timeout=3) as conn:
            running = conn.execute(
                "select exists (select 1 from pg_locks where locktype = 'advisory'"
                " and database = (select oid from pg_database"
                "                 where datname = current_database())"
                " and classid = %s and objid = %s and objsubid = 1 and granted)",
                (classid, objid)).fetchone()[0]
    except psycopg.Error:
        running = False
    return {"running": running or refresh_worker().running}


@bp.get("/")
def index():
    return redirect(url_for("report.page"))


@bp.get("/report")
@login_required
def page():
    data = _load()
    chart = trend_svg(data.trend, hide_no_show=data.fallback) if data.trend else ""
    review_week = data.review_week_only
    groups = reportdata.review_groups(data)
    confirmed = request.args.get("confirmed")
    confirmed_item = next((p for p in data.pending_confirmations
                           if p["booking_id"] == confirmed), None) if confirmed else None
    cards = reportdata.headline_cards(data)
    return render_template(
        "report.html", d=data, chart=chart, cards=cards,
        answer=reportdata.week_answer(data, cards) if data.week else None,
        item_anchor=item_anchor, lost_webhooks=wording.lost_webhooks_line(data.feed),
        page_size=reportdata.REVIEW_PAGE_SIZE,
        review_groups=groups, review_week=review_week,
        confirmed_item=confirmed_item, breakdown_label=reportdata.BREAKDOWNS[
            data.breakdown_by][2], terms=wording.TERMS, advice=wording.ADVICE,
        plural=wording.plural, percent=wording.percent, hours=wording.hours,
        points=wording.points, rate_with_denominator=wording.rate_with_denominator,
        small=wording.is_small_sample, outcome_label=wording.outcome_label,
        reason_label=wording.reason_label, source_label=wording.source_label,
        refusals_line=wording.refusals_line,
        recovery=reportdata.recovery_line(data.feed), sync_warning=reportdata.sync_warning(
            data.feed),
        week_label=reportdata.iso_week_label, week_range=reportdata.week_range,
        reminder_reading=reportdata.reminder_reading(data),
        refresh=refresh_state(), outcomes=("completed", "no_show", "host_no_show", "cancelled"),
        refresh_started=request.args.get("refresh"),
        return_to=_view_path(), webhook_url=request.host_url.rstrip("/") + "/webhooks/calcom")


def _view_path() -> str:
    """This page's week and source, without one-off notices (confirmed=, refresh=)."""
    kept = {k: v for k, v in request.args.items()
            if k in ("week", "source", "by", "review", "page") and v}
    return url_for("report.page", **kept)


@bp.get("/report.json")
@login_required
def page_json():
    data = _load()
    return Response(render(data, "json"), mimetype="application/json")


@bp.get("/report.csv")
@login_required
def page_csv():
    data = _load()
    name = safe_filename(f"booking-report-{data.iso_week or 'empty'}-{data.source}") + ".csv"
    return Response(as_csv(data), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/review.csv")
@login_required
def review_csv():
    """The whole review queue (the page lists the oldest items of each reason)."""
    week = None
    if request.args.get("week"):
        try:
            week = reportdata.parse_week(request.args["week"])
        except reportdata.ReportError as exc:
            abort(400, description=str(exc))
    private = current_app.config.get("REPORTING_PRIVATE_SCHEMA", "reporting_private")
    if not private:
        abort(404, description="this page does not show private data")
    rows = reportdata.review_queue_csv(
        _dsn(), reporting=current_app.config.get("REPORTING_SCHEMA", "reporting"),
        private=private, week=week)
    try:
        first = next(rows)  # connection and query errors surface before the headers
    except psycopg.errors.UndefinedTable:
        abort(404, description="the marts are not built yet: run `booking-report refresh`")
    except psycopg.OperationalError:
        abort(503, description="The report's database cannot be reached right now.")

    def chunks():
        yield first
        yield from rows

    name = "review-queue" + (f"-{reportdata.iso_week_label(week)}" if week else "") + ".csv"
    return Response(chunks(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/refresh")
@login_required
def start_refresh():
    """Ask the refresh worker for a refresh (started on the first press, kept with dbt
    loaded: report/refresher.py); answer when it is done, or after REFRESH_WAIT_SECONDS
    (10) with the page that says it is running (JSON: at once)."""
    check_csrf()
    back = _same_view(request.form.get("return_to"))
    joiner = "&" if "?" in back else "?"
    wants_json = _wants_json()
    started = False
    if not refresh_state()["running"]:
        env = dict(os.environ, DATABASE_URL=current_app.config["DATABASE_URL"])
        log_path = Path(current_app.config.get("DATA_DIR", ".data")) / "refresh.log"
        started = refresh_worker().request(env, log_path, idle_seconds=float(
            current_app.config.get("REFRESH_WORKER_IDLE_SECONDS", 900)))
    if not started:
        if wants_json:
            return jsonify({"status": "already-running"}), 409
        return redirect(back + joiner + "refresh=already-running", code=303)
    log.info("refresh started from the page")
    if wants_json:
        return jsonify({"status": "started"}), 202
    # the browser waits a little for the answer: a refresh of only what changed takes a
    # few seconds, and the owner then gets the fresh numbers at once, not at the next
    # of the running page's 5-second reloads (docs/decisions/page.md)
    refresh_worker().wait(float(current_app.config.get("REFRESH_WAIT_SECONDS", 10)))
    return redirect(back + joiner + "refresh=started", code=303)


def register(app, *, refresh_lock_key: int) -> None:
    """The page on ``app``; ``refresh_lock_key``: the advisory lock a running refresh
    holds ("Refresh now" says a refresh is running while it is held)."""
    app.config["REFRESH_LOCK_KEY"] = refresh_lock_key
    app.extensions["refresh_worker"] = RefreshWorker()
    app.register_blueprint(bp)
    for code in (400, 401, 403, 404, 405, 413, 429, 503):
        app.register_error_handler(code, error_page)
