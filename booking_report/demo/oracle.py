"""The scenario oracle: what the marts must say, computed in Python from a generated
scenario (`Scenario.expected()`), by the rules of docs/design.md applied to what the
webhooks delivered (and, ``synced``, to what the Cal.com API lists). The tests compare
every mart with it (tests/python/oracle.py); the generator is `scenario.py`."""

from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from booking_report.demo.scenario import (
    CREATION,
    LIFECYCLE,
    MEETING,
    MEETING_OUTCOMES,
    Chain,
    Lead,
    Scenario,
    api_changed_at,
    chain_host,
    creates,
    uid_events,
)


def webhook_state(chain: Chain, uid: str) -> str:
    """The uid's state from its delivered lifecycle webhooks alone (accepted if none)."""
    rank = {"BOOKING_REQUESTED": 1, "BOOKING_PAYMENT_INITIATED": 1, "BOOKING_CREATED": 2,
            "BOOKING_PAID": 2, "BOOKING_RESCHEDULED": 3, "BOOKING_CANCELLED": 5,
            "BOOKING_REJECTED": 6}
    events = [e for e in uid_events(chain, uid) if e.delivered and e.trigger in LIFECYCLE]
    if not events:
        return "accepted"
    latest = max(events, key=lambda e: (e.sent_at, rank[e.trigger]))
    return {"BOOKING_REQUESTED": "pending", "BOOKING_PAYMENT_INITIATED": "pending",
            "BOOKING_CANCELLED": "cancelled",
            "BOOKING_REJECTED": "rejected"}.get(latest.trigger, "accepted")


def _is_series_cancel(chain: Chain) -> bool:
    """Whether the latest delivered lifecycle webhook of the chain's current uid is a
    "cancel all remaining" (a BOOKING_CANCELLED carrying the recurrence)."""
    events = [e for e in uid_events(chain, chain.uids[-1])
              if e.delivered and e.trigger in LIFECYCLE]
    if not events:
        return False
    latest = max(events, key=lambda e: e.sent_at)
    return latest.trigger == "BOOKING_CANCELLED" and "recurringEvent" in latest.body["payload"]


def _webhook_marks_no_show(chain: Chain, uid: str) -> bool:
    marks = [e for e in uid_events(chain, uid)
             if e.delivered and e.trigger == "BOOKING_NO_SHOW_UPDATED"]
    return bool(marks) and bool(max(marks, key=lambda e: e.sent_at)
                                .body["payload"]["attendees"][0]["noShow"])


def has_delivered_creation(chain: Chain, uid: str) -> bool:
    return any(e.delivered and creates(chain, e) for e in uid_events(chain, uid))


def _sent_lead_id(chain: Chain) -> str | None:
    """The lead id a delivered webhook carried (a seat's: the body that created it)."""
    for e in sorted(chain.events, key=lambda e: e.sent_at):
        if not e.delivered or (chain.session is not None and e.for_seat != chain.root_uid):
            continue
        metadata = e.body.get("payload", e.body).get("metadata")
        if isinstance(metadata, dict) and metadata.get("leadId"):
            return metadata["leadId"]
    return None


def _webhook_booked_at(chain: Chain) -> datetime:
    """booked_at from delivered webhooks alone, as the SQL builds it: the first
    creation event; else per uid its first event, MEETING_* bodies last."""
    creations = [e.sent_at for e in chain.events if e.delivered and creates(chain, e)]
    if creations:
        return min(creations)
    per_uid = []
    for uid in chain.uids:
        events = [e for e in uid_events(chain, uid) if e.delivered]
        plain = [e.sent_at for e in events if e.trigger not in MEETING]
        meeting = [e.sent_at for e in events if e.trigger in MEETING]
        if plain or meeting:
            per_uid.append(min(plain) if plain else min(meeting))
    return min(per_uid)


class Oracle:
    def __init__(self, sc: Scenario, *, synced: bool = False):
        self.sc = sc
        self.synced = synced
        self.tz = ZoneInfo(sc.report_timezone)
        self.leads_by_id = {lead.lead_id: lead for lead in sc.leads}

    def week(self, ts: datetime) -> date:
        local = ts.astimezone(self.tz).date()
        return local - timedelta(days=local.weekday())

    def match(self, chain: Chain, booked_at: datetime) -> tuple[str | None, str]:
        # the lead id is known from any delivered webhook that carried it, or from the
        # API (which keeps the request's metadata, a seat's on the seat; a seat its
        # attendee cancelled is deleted with its metadata: only a webhook tells it)
        if self.synced and chain.left_at is None:
            sent = chain.metadata_lead_id if chain.uses_metadata else None
        else:
            sent = _sent_lead_id(chain)
        if sent in self.leads_by_id:
            return sent, "metadata"
        email = chain.booker_email.strip().lower()
        candidates = [lead for lead in self.sc.leads if lead.email.strip().lower() == email]
        before = [lead for lead in candidates if lead.created_at <= booked_at]
        if before:
            return max(before, key=lambda lead: lead.created_at).lead_id, "email"
        if candidates:
            return min(candidates, key=lambda lead: lead.created_at).lead_id, "email"
        return None, "none"

    def run(self) -> dict[str, Any]:
        sc = self.sc
        as_of = sc.as_of
        bookings: dict[str, dict[str, Any]] = {}
        for chain in sc.chains:
            # a seat its attendee cancelled is gone from the API: only webhooks tell it
            if not (chain.visible or (self.synced and chain.left_at is None)):
                continue
            delivered = [e for e in chain.events if e.delivered]
            webhook_times = [e.sent_at for e in delivered if e.trigger not in MEETING]
            missing_creation = [uid for uid in chain.uids
                                if not has_delivered_creation(chain, uid)]
            if self.synced:
                # every uid is known to the API: booked_at from its createdAt, the grace
                # clock also from its changes (updatedAt, else createdAt)
                booked_at = min(e.sent_at for e in chain.events if e.trigger in CREATION)
                if chain.session is not None:
                    # the API's createdAt is the session's: a seat's own creation first
                    own = [e.sent_at for e in chain.events if e.delivered and creates(chain, e)]
                    booked_at = min(own) if own else chain.session.created_at
                changes = [updated or created for created, updated in
                           (api_changed_at(chain, i) for i in range(len(chain.uids)))]
                latest_event_at = max(webhook_times + changes)
                incomplete = False
            else:
                booked_at = _webhook_booked_at(chain)
                latest_event_at = max(webhook_times)
                incomplete = bool(missing_creation)
            lead_id, method = self.match(chain, booked_at)
            current = chain.uids[-1]
            bookings[chain.root_uid] = {
                "chain": chain, "booked_at": booked_at, "lead_id": lead_id, "method": method,
                "incomplete": incomplete,
                "reschedule_count": len(chain.uids) - 1,
                "latest_event_at": latest_event_at,
                "recovered": self.synced and (
                    bool(missing_creation) or webhook_state(chain, current) != chain.state),
            }
        latest_by_lead: dict[str, str] = {}
        for booking_id, b in sorted(bookings.items(), key=lambda kv: (kv[1]["booked_at"], kv[0])):
            if b["lead_id"]:
                latest_by_lead[b["lead_id"]] = booking_id
        review_cut = timedelta(hours=sc.review_after_hours)
        series_cancelled = self.series_cancels(bookings)
        for booking_id, b in bookings.items():
            chain: Chain = b["chain"]
            lead = self.leads_by_id.get(b["lead_id"]) if b["lead_id"] else None
            crm_changed = (lead.updated_at or sc.snapshot_at) if lead else None
            current = chain.uids[-1]
            video_delivered = any(e.delivered and e.trigger.startswith("AFTER_")
                                  for e in chain.events)
            # the state as known: the truth after a sync, else what the webhooks said
            state = chain.state if self.synced else webhook_state(chain, current)
            if chain.manual and chain.visible:
                outcome, source = chain.manual[0], "manual"
            elif state in ("cancelled", "rejected", "pending"):
                outcome, source = state, "lifecycle"
            elif booking_id in series_cancelled:
                outcome, source = "pending", "series_cancel"
            elif chain.evidence == "calcom":
                outcome = "no_show"
                source = ("calcom" if not self.synced or _webhook_marks_no_show(chain, current)
                          else "calcom_api")
            elif chain.evidence == "cal_video" and video_delivered:
                outcome = "host_no_show" if chain.attendance == "host_no_show" else "no_show"
                source = "cal_video"
            elif chain.host_marked_at and self.synced:
                outcome, source = "host_no_show", "calcom_api"
            elif (lead and lead.crm_state in ("completed", "no_show")
                  and crm_changed > chain.start and latest_by_lead.get(lead.lead_id) == booking_id):
                outcome, source = lead.crm_state, "crm"
            elif chain.end > as_of:
                outcome, source = "upcoming", "clock"
            elif chain.end > as_of - review_cut:
                outcome, source = "awaiting_outcome", "clock"
            else:
                outcome, source = "needs_review", "clock"
            b["outcome"], b["outcome_source"] = outcome, source
            b["recovered"] = b["recovered"] or source == "calcom_api"
            manual_at = [chain.manual[1]] if chain.manual and chain.visible else []
            b["calcom_changed_at"] = max([b["latest_event_at"]] + manual_at)
            b["lead_source"] = ((lead.source.strip().lower() or "unknown") if lead
                                else "unattributed")
            # the SMS number is known from a delivered webhook of the current uid (the
            # API's booking object does not carry it)
            sms_known = chain.sms is not None and any(
                e.delivered and e.trigger in LIFECYCLE + MEETING
                for e in uid_events(chain, current))
            b["has_reminder"] = sms_known or bool(
                lead and lead.reminder_sent_at
                and b["booked_at"] <= lead.reminder_sent_at < chain.start)
        # ---- leads
        lead_rows: dict[str, dict[str, Any]] = {}
        for lead in sc.leads:
            own = [(bid, b) for bid, b in bookings.items() if b["lead_id"] == lead.lead_id]
            first = min((b["booked_at"] for _, b in own), default=None) or lead.crm_booked_at
            if own:
                latest_id = latest_by_lead[lead.lead_id]
                latest = bookings[latest_id]
                o = latest["outcome"]
                if o in ("upcoming", "awaiting_outcome", "pending"):
                    status = "rescheduled" if latest["reschedule_count"] > 0 else "booked"
                elif o in ("completed", "no_show"):
                    status = o
                elif o in ("cancelled", "rejected"):
                    status = "cancelled"
                else:
                    status = "needs_review"
            else:
                latest_id = None
                status = lead.crm_state if lead.crm_state in (
                    "invited", "booked", "rescheduled", "completed", "no_show",
                    "cancelled") else "invited"
            hours = None if first is None else max(
                0.0, (first - lead.created_at).total_seconds() / 3600)
            lead_rows[lead.lead_id] = {
                "lead": lead, "status": status, "first_booked_at": first,
                "hours_to_book": hours, "latest_booking_id": latest_id,
                "source": lead.source.strip().lower() or "unknown",
                "booked_in_window": first is not None and first <= lead.created_at + timedelta(
                    days=sc.book_window_days),
                "crm_only": not own and lead.crm_booked_at is not None,
            }
        gaps = self.gaps(bookings, lead_rows, latest_by_lead)
        return {
            "bookings": {bid: {k: v for k, v in b.items() if k != "chain"}
                         for bid, b in bookings.items()},
            "leads": {lid: {k: v for k, v in r.items() if k != "lead"}
                      for lid, r in lead_rows.items()},
            "gaps": gaps,
            "weekly": self.weekly(bookings, lead_rows),
            "feed_status": self.feed(bookings, lead_rows),
        }

    def series_cancels(self, bookings) -> set[str]:
        """Occurrences of a recurring series told cancelled by "cancel all remaining"
        without a word of their own, as the models infer it from webhooks alone: the
        same booker, event type and host, booked within ten minutes of the occurrence
        whose latest word is a series cancellation; starting after it; nothing newer."""
        if self.synced:
            return set()  # the API's statement of each occurrence is the latest word
        cancels = [b for b in bookings.values() if _is_series_cancel(b["chain"])]
        found: set[str] = set()
        for booking_id, b in bookings.items():
            chain: Chain = b["chain"]
            current = chain.uids[-1]
            recurring = any(e.delivered and "recurringEvent" in e.body.get("payload", e.body)
                            for e in uid_events(chain, current))
            if not recurring or webhook_state(chain, current) != "accepted":
                continue
            for s in cancels:
                other: Chain = s["chain"]
                if (other is not chain
                        and other.booker_email.strip().lower()
                        == chain.booker_email.strip().lower()
                        and other.event_type == chain.event_type
                        and chain_host(other) == chain_host(chain)
                        and abs(s["booked_at"] - b["booked_at"]) <= timedelta(minutes=10)
                        and chain.start >= s["latest_event_at"]
                        and b["latest_event_at"] < s["latest_event_at"]):
                    found.add(booking_id)
        return found

    def gaps(self, bookings, lead_rows, latest_by_lead) -> set[tuple[str, str]]:
        """Each gap type on its own clock: the later of the CRM's change and the chain's
        latest Cal.com event; an owner's confirmation moves it for outcome_conflict only."""
        sc = self.sc
        cut = sc.as_of - timedelta(minutes=sc.grace_minutes)
        out: set[tuple[str, str]] = set()
        for lead_id, row in lead_rows.items():
            lead: Lead = row["lead"]
            crm = lead.crm_state
            crm_changed = lead.updated_at or sc.snapshot_at
            own = [b for b in bookings.values() if b["lead_id"] == lead_id]
            latest = bookings.get(latest_by_lead.get(lead_id, ""))
            found: list[tuple[str, datetime]] = []
            live = [b for b in own if b["outcome"] not in ("cancelled", "rejected")]
            if live and crm in ("none", "invited", "unknown"):
                found.append(("crm_missing_booking",
                              min(max(crm_changed, b["latest_event_at"]) for b in live)))
            if latest and latest["outcome"] == "cancelled" and crm in ("booked", "rescheduled"):
                found.append(("crm_stale_after_cancel",
                              max(crm_changed, latest["latest_event_at"])))
            if not own and crm in ("booked", "rescheduled", "completed", "no_show"):
                found.append(("calcom_missing_booking", crm_changed))
            if (latest and latest["outcome_source"] in ("manual", "calcom", "calcom_api",
                                                         "cal_video")
                    and latest["outcome"] in ("completed", "no_show")
                    and crm in ("completed", "no_show") and latest["outcome"] != crm):
                found.append(("outcome_conflict", max(crm_changed, latest["calcom_changed_at"])))
            out |= {(lead_id, gap) for gap, detected in found if detected <= cut}
        return out

    def weekly(self, bookings, lead_rows) -> dict[tuple[date, str], dict[str, Any]]:
        cells: dict[tuple[date, str], dict[str, Any]] = {}

        def cell(week: date, source: str) -> dict[str, Any]:
            return cells.setdefault((week, source), {"eligible_leads": 0, "booked_leads": 0,
                                                     "hours": [], "bookings_made": 0,
                                                     "rescheduled_bookings": 0,
                                                     "cancelled_bookings": 0,
                                                     **{o: 0 for o in MEETING_OUTCOMES}})
        for row in lead_rows.values():
            lead: Lead = row["lead"]
            for source in (row["source"], "all"):
                c = cell(self.week(lead.created_at), source)
                if lead.eligible:
                    c["eligible_leads"] += 1
                    if row["booked_in_window"]:
                        c["booked_leads"] += 1
                        c["hours"].append(row["hours_to_book"])
        for b in bookings.values():
            for source in (b["lead_source"], "all"):
                c = cell(self.week(b["booked_at"]), source)
                c["bookings_made"] += 1
                c["rescheduled_bookings"] += b["reschedule_count"] > 0
                c["cancelled_bookings"] += b["outcome"] == "cancelled"
                if b["outcome"] in MEETING_OUTCOMES:
                    cell(self.week(b["chain"].start), source)[b["outcome"]] += 1
        weeks = {w for w, _ in cells}
        sources = {s for _, s in cells}
        spine = []
        w = min(weeks)
        while w <= max(weeks):
            spine.append(w)
            w += timedelta(days=7)
        out: dict[tuple[date, str], dict[str, Any]] = {}
        for source in sources:
            prev: dict[str, Any] | None = None
            for week in spine:
                c = cells.get((week, source)) or cell(week, source)
                rate = lambda n, d: (n / d) if d else None  # noqa: E731
                row = {
                    "eligible_leads": c["eligible_leads"], "booked_leads": c["booked_leads"],
                    "book_rate": rate(c["booked_leads"], c["eligible_leads"]),
                    "median_hours_to_book": statistics.median(c["hours"]) if c["hours"] else None,
                    "bookings_made": c["bookings_made"],
                    "rescheduled_bookings": c["rescheduled_bookings"],
                    "reschedule_rate": rate(c["rescheduled_bookings"], c["bookings_made"]),
                    "cancelled_bookings": c["cancelled_bookings"],
                    "cancellation_rate": rate(c["cancelled_bookings"], c["bookings_made"]),
                    "meetings_scheduled": sum(c[o] for o in MEETING_OUTCOMES),
                    "upcoming_meetings": c["upcoming"], "completed_meetings": c["completed"],
                    "no_shows": c["no_show"], "host_no_shows": c["host_no_show"],
                    "awaiting_outcome": c["awaiting_outcome"], "needs_review": c["needs_review"],
                    "no_show_rate": rate(c["no_show"], c["completed"] + c["no_show"]),
                    "is_book_rate_provisional": datetime.combine(
                        week + timedelta(days=7 + self.sc.book_window_days), datetime.min.time(),
                        tzinfo=self.tz) > self.sc.as_of,
                }
                for metric in ("book_rate", "reschedule_rate", "cancellation_rate",
                               "no_show_rate", "median_hours_to_book"):
                    before = prev[metric] if prev else None
                    row[f"prev_{metric}"] = before
                    row[f"delta_{metric}"] = (None if before is None or row[metric] is None
                                              else row[metric] - before)
                out[(week, source)] = row
                prev = row
        return out

    def feed(self, bookings, lead_rows) -> str:
        sc = self.sc
        times = [e.sent_at for c in sc.chains for e in c.events
                 if e.delivered and e.trigger not in MEETING] + [sc.ping.sent_at]
        if max(times) < sc.as_of - timedelta(hours=72):
            return "stale"
        window = sc.as_of - timedelta(days=28)
        recent = [b for b in bookings.values() if window < b["booked_at"] <= sc.as_of]
        crm_only = [r for r in lead_rows.values() if r["crm_only"]
                    and window < r["first_booked_at"] <= sc.as_of]
        incomplete = [b for b in recent if b["incomplete"]]
        total = len(recent) + len(crm_only)
        if total and (len(crm_only) + len(incomplete)) / total > 0.2:
            return "degraded"
        return "healthy"
