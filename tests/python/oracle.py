"""Compare the marts of a database with a scenario's ground truth."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import psycopg

WEEKLY_COLUMNS = [
    "eligible_leads", "booked_leads", "book_rate", "is_book_rate_provisional",
    "median_hours_to_book", "bookings_made", "rescheduled_bookings", "reschedule_rate",
    "cancelled_bookings", "cancellation_rate", "meetings_scheduled", "upcoming_meetings",
    "completed_meetings", "no_shows", "host_no_shows", "awaiting_outcome", "needs_review",
    "no_show_rate",
] + [f"{kind}_{metric}" for metric in ("book_rate", "reschedule_rate", "cancellation_rate",
                                         "no_show_rate", "median_hours_to_book")
     for kind in ("prev", "delta")]


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) or hasattr(a, "as_integer_ratio"):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def mismatches(dsn: str, expected: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    with psycopg.connect(dsn) as conn:
        # ---- bookings
        rows = conn.execute("select booking_id, outcome, outcome_source, lead_id,"
                            " lead_match_method, reschedule_count, has_incomplete_history,"
                            " booked_at, has_reminder, recovered_from_api"
                            " from reporting.fct_bookings").fetchall()
        got = {r[0]: r[1:] for r in rows}
        want = expected["bookings"]
        for bid in sorted(set(got) | set(want)):
            if bid not in got:
                problems.append(f"booking {bid}: missing from fct_bookings")
                continue
            if bid not in want:
                problems.append(f"booking {bid}: unexpected row in fct_bookings {got[bid]}")
                continue
            g, w = got[bid], want[bid]
            expect = (w["outcome"], w["outcome_source"], w["lead_id"], w["method"],
                      w["reschedule_count"], w["incomplete"], w["booked_at"], w["has_reminder"],
                      w["recovered"])
            if tuple(g) != expect:
                problems.append(f"booking {bid}: got {tuple(g)} want {expect}")
        # ---- leads
        rows = conn.execute("select lead_id, status, first_booked_at, hours_to_book,"
                            " latest_booking_id from reporting.dim_leads").fetchall()
        for lead_id, status, first, hours, latest in rows:
            w = expected["leads"].get(lead_id)
            if w is None:
                problems.append(f"lead {lead_id}: unexpected")
                continue
            if (status, first, latest) != (w["status"], w["first_booked_at"],
                                           w["latest_booking_id"]) or not _same(
                                               hours, w["hours_to_book"]):
                want = (w["status"], w["first_booked_at"], w["hours_to_book"],
                        w["latest_booking_id"])
                problems.append(f"lead {lead_id}: got {(status, first, hours, latest)} "
                                f"want {want}")
        if len(rows) != len(expected["leads"]):
            problems.append(f"dim_leads has {len(rows)} rows, want {len(expected['leads'])}")
        # ---- gaps
        got_gaps = set(conn.execute(
            "select lead_id, gap_type from reporting.reconciliation_gaps").fetchall())
        for gap in sorted(got_gaps - expected["gaps"]):
            problems.append(f"gap {gap}: unexpected")
        for gap in sorted(expected["gaps"] - got_gaps):
            problems.append(f"gap {gap}: missing")
        # ---- weekly
        cur = conn.execute(f"select week_start, lead_source, {', '.join(WEEKLY_COLUMNS)}"
                           " from reporting.rpt_weekly_status")
        weekly: dict[tuple[date, str], dict[str, Any]] = {
            (r[0], r[1]): dict(zip(WEEKLY_COLUMNS, r[2:], strict=True)) for r in cur}
        want_weekly = expected["weekly"]
        for key in sorted(set(weekly) | set(want_weekly)):
            if key not in weekly or key not in want_weekly:
                problems.append(f"weekly {key}: present in {'marts' if key in weekly else 'oracle'}"
                                " only")
                continue
            for col in WEEKLY_COLUMNS:
                if not _same(weekly[key][col], want_weekly[key][col]):
                    problems.append(f"weekly {key} {col}: got {weekly[key][col]} "
                                    f"want {want_weekly[key][col]}")
        # ---- feed
        status = conn.execute("select status from reporting.feed_health").fetchone()[0]
        if status != expected["feed_status"]:
            problems.append(f"feed_health.status: got {status} want {expected['feed_status']}")
    return problems
