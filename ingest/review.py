"""POST /review/confirmations: an owner confirms a slot's outcome.

Writes ``raw.manual_outcomes`` (who, when); dbt applies the latest confirmation per
booking at the next refresh. Login and CSRF rules come from ``webauth``, shared with
the report page.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from flask import Blueprint, abort, current_app, jsonify, redirect, request

from ingest.durable import DatabaseUnavailable
from webauth import check_csrf, current_user, item_anchor, login_required

log = logging.getLogger("booking_report.ingest.review")

OUTCOMES = ("completed", "no_show", "host_no_show", "cancelled")
UNDO = "undone"  # takes back the booking's latest confirmation

review = Blueprint("review", __name__)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@review.post("/review/confirmations")
@login_required
def confirm_outcome():
    check_csrf()
    booking_id = (request.form.get("booking_id") or "").strip()
    outcome = (request.form.get("outcome") or "").strip()
    note = (request.form.get("note") or "").strip() or None
    if not booking_id or len(booking_id) > 200:
        abort(400, description="booking_id is required (the booking's id from the review "
                               "queue)")
    if not outcome:
        abort(400, description="choose what happened (completed, no-show, host no-show or "
                               "cancelled) before confirming")
    if outcome not in OUTCOMES + (UNDO,):
        abort(400, description=f"outcome {outcome!r} is not one of: {', '.join(OUTCOMES)}")
    if note and len(note) > 2000:
        abort(400, description="the note is longer than 2000 characters")
    user = current_user() or "unknown"
    try:
        row = current_app.extensions["delivery_store"].run(lambda conn: conn.execute(
            "insert into raw.manual_outcomes (booking_id, outcome, confirmed_by, note)"
            " values (%s, %s, %s, %s) returning confirmation_id, confirmed_at",
            (booking_id, outcome, user, note)).fetchone())
    except DatabaseUnavailable:
        abort(503, description="the database is unreachable; the confirmation was not "
                               "saved, try again in a minute")
    log.info("manual outcome confirmed booking=%s outcome=%s by=%s", booking_id, outcome, user)
    if _wants_json():
        return jsonify({"status": "saved", "confirmation_id": row[0],
                        "confirmed_at": row[1].isoformat()}), 201
    back = request.form.get("return_to") or "/report"
    if not back.startswith("/") or back.startswith("//"):
        back = "/report"
    # back to where the row was: it now says what was saved, with Undo beside it
    return redirect(back + ("&" if "?" in back else "?") + "confirmed=" + quote(booking_id)
                    + "#" + item_anchor(booking_id), code=303)
