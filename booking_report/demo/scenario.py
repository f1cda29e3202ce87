"""A scenario generator with known ground truth: the demo's data and the tests' oracle.

``generate(seed, …)`` simulates CRM leads and their true booking paths, then writes
what the outside world would send: Cal.com webhook bodies (with duplicates, shuffled
arrival, reschedules through REQUESTED, no-show un-marks, dropped webhooks, flat
MEETING_ENDED bodies) and one CRM snapshot (with spelling variants and lag).

``Scenario.expected()`` is the oracle: it applies docs/design.md's rules to what the
generator *knows* (each chain's true path and which of its events were delivered),
independently of the SQL, and returns what the marts must say.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

LIFECYCLE = ("BOOKING_CREATED", "BOOKING_REQUESTED", "BOOKING_RESCHEDULED",
             "BOOKING_CANCELLED", "BOOKING_REJECTED", "BOOKING_PAYMENT_INITIATED",
             "BOOKING_PAID")
CREATION = ("BOOKING_CREATED", "BOOKING_REQUESTED", "BOOKING_RESCHEDULED",
            "BOOKING_PAYMENT_INITIATED")
MEETING = ("MEETING_STARTED", "MEETING_ENDED")
MEETING_OUTCOMES = ("upcoming", "awaiting_outcome", "needs_review", "completed", "no_show",
                    "host_no_show")

SOURCES = [("ads", 0.34), ("organic", 0.26), ("referral", 0.18), ("partner", 0.14), ("", 0.08)]
BOOK_PROBABILITY = {"ads": 0.52, "organic": 0.62, "referral": 0.74, "partner": 0.58, "": 0.5}
CRM_SPELLINGS = {
    "booked": ["Meeting Booked", "booked", "Scheduled", "Call booked"],
    "rescheduled": ["Rescheduled", "Meeting rescheduled"],
    "completed": ["Showed", "Attended", "Completed"],
    "no_show": ["No Show", "no-show", "No-show", "NO_SHOW"],
    "cancelled": ["Canceled", "Cancelled"],
    "invited": ["Link sent", "New"],
}
FIRST = ["Ada", "Ben", "Chloe", "Dev", "Elif", "Farah", "Gus", "Hana", "Ivo", "Jia", "Kemal",
         "Lena", "Marco", "Nia", "Omar", "Pia", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Vik",
         "Wen", "Xavi", "Yara", "Zed"]
LAST = ["Adams", "Berg", "Costa", "Diaz", "Evans", "Fischer", "Gupta", "Haddad", "Ito", "Jensen",
        "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Perez", "Quist", "Rossi", "Silva",
        "Tanaka", "Ulloa", "Varga", "Weber", "Xu", "Yilmaz", "Zhou"]
HOSTS = [(11, "Hana Host", "hana@studio.example"), (12, "Ravi Rao", "ravi@studio.example"),
         (13, "Mia Meyer", "mia@studio.example")]
EVENT_TYPES = {"intro-call": (77, "Intro Call"), "strategy-session": (78, "Strategy Session"),
               "group-workshop": (79, "Group Workshop"), "weekly-coaching": (80, "Weekly Coaching")}
# a seated event type: every attendee books a seat on the same Cal.com booking
SEATED, SEATS_PER_SLOT = "group-workshop", 6
# a recurring event type: four weekly occurrences, each its own booking
# (Cal.com's RecurringEvent; freq 2 is rrule's WEEKLY)
RECURRING, RECURRENCE = "weekly-coaching", {"freq": 2, "count": 4, "interval": 1}
# a paid event type's price (cents)
PRICE = 9000
LOCATIONS = ["integrations:daily", "integrations:daily", "integrations:zoom", "phone",
             "inPerson"]


def _pick(uid: str, options: list, salt: str) -> Any:
    """A stable choice from the chain's own uid: no draw from the random stream, so
    adding a dimension does not shift any other generated value."""
    return options[int(hashlib.sha256((salt + uid).encode()).hexdigest()[:8], 16) % len(options)]


def _booking_key(chain: Chain) -> str:
    """What host and location are picked by: the seats of a session and the occurrences
    of a series share theirs."""
    if chain.session is not None:
        return chain.session.uid
    if chain.series is not None:
        return chain.series.uid
    return chain.root_uid


def chain_host(chain: Chain) -> tuple[int, str, str]:
    return _pick(_booking_key(chain), HOSTS, "host")


def chain_location(chain: Chain) -> str:
    if chain.session is not None:
        return "integrations:zoom"
    kind = _pick(_booking_key(chain), LOCATIONS, "location")
    if kind == "phone":
        return "+1 415 555 0100"
    if kind == "inPerson":
        return "Studio, 1 Main Street"
    return kind


CANCEL_REASONS = ["Found another provider", "Schedule conflict", "No longer needed",
                  "Budget not approved", None]


@dataclass
class Event:
    trigger: str
    sent_at: datetime  # envelope createdAt (for MEETING_* the booking's creation time)
    body: dict[str, Any]
    uid: str | None
    delivered: bool = True
    # a seat's creation: the seat it created (the body lists the seats before it too)
    for_seat: str | None = None


def seat_uid(booking_uid: str, email: str) -> str:
    """A seat's booking id, as the models derive it (macros/calcom.sql)."""
    return f"{booking_uid}#seat-{hashlib.md5(email.strip().lower().encode()).hexdigest()[:12]}"


@dataclass
class Session:
    """One slot of the seated event type: one Cal.com booking, a seat per attendee."""
    uid: str
    start: datetime
    end: datetime
    seats: list[Chain] = field(default_factory=list)

    @property
    def created_at(self) -> datetime:
        return min(seat.booked_at for seat in self.seats)


@dataclass
class Series:
    """The occurrences of one recurring booking (Cal.com's recurringEventId)."""
    uid: str
    occurrences: list[Chain] = field(default_factory=list)
    cancelled_at: datetime | None = None  # "cancel all remaining"


@dataclass
class Lead:
    lead_id: str
    created_at: datetime
    email: str
    name: str
    source: str  # raw CRM value ('' = blank)
    lead_status: str
    eligible: bool
    booking_status: str = ""
    crm_state: str = "none"  # normalized expectation
    updated_at: datetime | None = None
    crm_booked_at: datetime | None = None
    reminder_sent_at: datetime | None = None
    invited_at: datetime | None = None


@dataclass
class Chain:
    root_uid: str
    owner: Lead | None  # who truly booked (None = not a CRM lead)
    booker_email: str  # as sent (case/space variants)
    booker_name: str
    event_type: str
    uses_metadata: bool
    metadata_lead_id: str | None
    requires_confirmation: bool
    booked_at: datetime  # true first booking time
    uids: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    state: str = "accepted"  # accepted | pending | cancelled | rejected (current uid)
    attendance: str | None = None  # attended | no_show | host_no_show (truth, past slots)
    evidence: str | None = None  # calcom | cal_video | None
    sms: str | None = None
    cancellation_reason: str | None = None
    cancelled_by: str | None = None  # email of who cancelled (host or booker)
    drop_all: bool = False
    drop_root_creation: bool = False
    manual: tuple[str, datetime] | None = None
    events: list[Event] = field(default_factory=list)
    paid: bool = False  # a paid event type: BOOKING_PAYMENT_INITIATED, then CREATED + PAID
    sends_root: bool = False  # a newer Cal.com: rootBookingUid on its bodies
    session: Session | None = None  # a seat: the session it is booked on
    seat_ref: str | None = None  # the seat's referenceUid (the API's seatUid)
    left_at: datetime | None = None  # a seat cancelled by its attendee
    series: Series | None = None  # an occurrence of a recurring series
    silently_cancelled_at: datetime | None = None  # by "cancel all remaining", no webhook
    host_marked_at: datetime | None = None  # the host marked themselves absent: API only

    @property
    def visible(self) -> bool:
        return any(e.delivered for e in self.events if e.trigger != "PING")


@dataclass
class Scenario:
    seed: int
    as_of: datetime
    snapshot_at: datetime
    leads: list[Lead]
    chains: list[Chain]
    bodies: list[bytes]  # delivery order, duplicates included
    ping: Event
    report_timezone: str = "UTC"
    book_window_days: int = 14
    review_after_hours: int = 24
    grace_minutes: int = 60
    lossy: float = 0.0  # the share of chains that lost one more webhook on purpose
    sessions: list[Session] = field(default_factory=list)

    # ------------------------------------------------------------ outputs

    def crm_rows(self) -> list[dict[str, Any]]:
        def ts(value: datetime | None) -> str:
            return value.isoformat().replace("+00:00", "Z") if value else ""
        return [{
            "lead_id": lead.lead_id, "created_at": ts(lead.created_at), "email": lead.email,
            "name": lead.name, "source": lead.source, "status": lead.lead_status,
            "booking_status": lead.booking_status, "booked_at": ts(lead.crm_booked_at),
            "invited_at": ts(lead.invited_at), "reminder_sent_at": ts(lead.reminder_sent_at),
            "updated_at": ts(lead.updated_at),
        } for lead in self.leads]

    def manual_outcomes(self) -> list[tuple[str, str, datetime]]:
        return [(c.root_uid, c.manual[0], c.manual[1]) for c in self.chains
                if c.manual and c.visible]

    def api_bookings(self) -> list[dict[str, Any]]:
        """What Cal.com's API v2 lists for every booking uid as of ``as_of``: the truth,
        whichever webhooks were delivered: one object per booking uid, a seated booking
        with its remaining attendees and their seats."""
        return [api_booking(chain, index) for chain in self.chains if chain.session is None
                for index in range(len(chain.uids))] + [
            session_api_booking(session) for session in self.sessions]

    # ------------------------------------------------------------ oracle

    def expected(self, *, synced: bool = False) -> dict[str, Any]:
        """The marts' truth. ``synced``: after a Cal.com API sync at ``as_of`` that
        served :meth:`api_bookings` (every booking and change is known then)."""
        from booking_report.demo.oracle import Oracle

        return Oracle(self, synced=synced).run()


def attendee(chain: Chain) -> dict[str, Any]:
    """The booker as a webhook body lists them (Cal.com's Person)."""
    return {"name": chain.booker_name, "email": chain.booker_email,
            "timeZone": "Europe/London", "language": {"locale": "en"}}


def _iso_ms(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def uid_events(chain: Chain, uid: str) -> list[Event]:
    """The events of one uid of the chain (a seat's: every body that lists it)."""
    return [e for e in chain.events
            if (e.uid == uid or chain.session is not None) and e.trigger != "PING"]


def creates(chain: Chain, event: Event) -> bool:
    """Whether the event is a creation of its uid (a seat's: the one that added it)."""
    return event.trigger in CREATION and (chain.session is None
                                          or event.for_seat == chain.root_uid)


def api_changed_at(chain: Chain, index: int) -> tuple[datetime, datetime | None]:
    """(createdAt, updatedAt) of one uid as Cal.com stamps them: created by its first
    creation event; updated (Prisma's ``@updatedAt``) by every later write of the booking
    row itself (a lifecycle change, being rescheduled away, ``updateMany`` cancelling a
    series, the host marking themselves absent), and not by a guest's no-show mark,
    which writes attendee rows only. A seat: its session's."""
    if chain.session is not None:
        return chain.session.created_at, None
    uid = chain.uids[index]
    events = sorted(uid_events(chain, uid), key=lambda e: e.sent_at)
    created = min(e.sent_at for e in events if e.trigger in CREATION)
    updates = [e.sent_at for e in events if e.trigger in LIFECYCLE and e.sent_at > created]
    if index + 1 < len(chain.uids):
        child = chain.uids[index + 1]
        updates.append(min(e.sent_at for e in uid_events(chain, child) if e.trigger in CREATION))
    elif chain.silently_cancelled_at:
        updates.append(chain.silently_cancelled_at)
    elif chain.host_marked_at:
        updates.append(chain.host_marked_at)
    return created, (max(updates) if updates else None)


def api_booking(chain: Chain, index: int) -> dict[str, Any]:
    """One booking object shaped like Cal.com's API v2 output."""
    uid = chain.uids[index]
    current = index == len(chain.uids) - 1
    events = sorted(uid_events(chain, uid), key=lambda e: e.sent_at)
    with_slot = [e for e in events if "startTime" in e.body.get("payload", e.body)]
    slot = with_slot[-1].body.get("payload", with_slot[-1].body)
    marks = [e for e in events if e.trigger == "BOOKING_NO_SHOW_UPDATED"]
    absent = bool(marks and marks[-1].body["payload"]["attendees"][0]["noShow"])
    created, updated = api_changed_at(chain, index)
    status = chain.state if current else "cancelled"  # rescheduled away: see rescheduledToUid
    booking: dict[str, Any] = {
        "id": int(hashlib.sha256(uid.encode()).hexdigest()[:7], 16), "uid": uid,
        "title": f"{chain.event_type.replace('-', ' ').title()} with {chain.booker_name}",
        "description": "", "status": status,
        "start": slot["startTime"], "end": slot["endTime"], "duration": 30,
        "eventTypeId": EVENT_TYPES[chain.event_type][0],
        "eventType": {"id": EVENT_TYPES[chain.event_type][0], "slug": chain.event_type},
        "hosts": [{"id": chain_host(chain)[0], "name": chain_host(chain)[1],
                   "email": chain_host(chain)[2], "username": chain_host(chain)[2].split("@")[0],
                   "timeZone": "Europe/Berlin"}],
        "attendees": [{"name": chain.booker_name, "email": chain.booker_email,
                       "timeZone": "Europe/London", "language": "en", "absent": absent}],
        "guests": [], "location": chain_location(chain),
        "absentHost": chain.host_marked_at is not None and current,
        "metadata": ({"leadId": chain.metadata_lead_id}
                     if chain.uses_metadata and chain.metadata_lead_id else {}),
        "createdAt": _iso_ms(created), "updatedAt": _iso_ms(updated) if updated else None,
    }
    if index > 0:
        booking["rescheduledFromUid"] = chain.uids[index - 1]
    if not current:
        booking["rescheduledToUid"] = chain.uids[index + 1]
    if chain.series is not None:
        booking["recurringBookingUid"] = chain.series.uid
    if current and chain.state == "cancelled":
        if chain.cancellation_reason:
            booking["cancellationReason"] = chain.cancellation_reason
        booking["cancelledByEmail"] = chain.cancelled_by
    return booking


def session_api_booking(session: Session) -> dict[str, Any]:
    """A seated booking as Cal.com's API v2 lists it: the attendees still booked, each
    with their seat's uid and the metadata their seat was booked with (an attendee whose
    seat was cancelled is deleted: cancelAttendeeSeat.ts)."""
    first = min(session.seats, key=lambda seat: seat.booked_at)
    host = chain_host(first)
    attendees = []
    for seat in sorted(session.seats, key=lambda seat: seat.booked_at):
        if seat.left_at is not None:
            continue
        marks = sorted((e for e in seat.events if e.trigger == "BOOKING_NO_SHOW_UPDATED"),
                       key=lambda e: e.sent_at)
        absent = bool(marks and marks[-1].body["payload"]["attendees"][0]["noShow"])
        attendees.append({
            "name": seat.booker_name, "email": seat.booker_email, "timeZone": "Europe/London",
            "language": "en", "absent": absent, "seatUid": seat.seat_ref,
            "metadata": ({"leadId": seat.metadata_lead_id}
                         if seat.uses_metadata and seat.metadata_lead_id else {})})
    return {
        "id": int(hashlib.sha256(session.uid.encode()).hexdigest()[:7], 16),
        "uid": session.uid, "title": EVENT_TYPES[SEATED][1], "description": "",
        "status": "accepted", "start": _iso_ms(session.start), "end": _iso_ms(session.end),
        "duration": 60, "eventTypeId": EVENT_TYPES[SEATED][0],
        "eventType": {"id": EVENT_TYPES[SEATED][0], "slug": SEATED},
        "hosts": [{"id": host[0], "name": host[1], "email": host[2],
                   "username": host[2].split("@")[0], "timeZone": "Europe/Berlin"}],
        "attendees": attendees, "guests": [], "location": "integrations:zoom",
        "absentHost": False, "metadata": {},
        "createdAt": _iso_ms(session.created_at), "updatedAt": None,
    }


# ====================================================================== generation


class _Gen:
    def __init__(self, seed: int, as_of: datetime, leads: int, weeks: int):
        self.rng = random.Random(seed)
        # the draws for seats, series, payments and newer Cal.com's hints: a stream of
        # their own, so the older shapes of a seed stay as they were
        self.shapes = random.Random(seed * 15485863 + 29)
        self.seed = seed
        self.as_of = as_of
        self.n_leads = leads
        self.weeks = weeks
        self.uid_counter = 0
        self.booking_id = 1000
        self.lossy = 0.0

    def uid(self, rng: random.Random | None = None) -> str:
        self.uid_counter += 1
        tail = "".join((rng or self.rng).choices(string.ascii_letters + string.digits, k=14))
        return f"{self.seed:03d}{self.uid_counter:05d}{tail}"

    def fmt(self, ts: datetime) -> str:
        ts = ts.astimezone(UTC)
        style = self.rng.random()
        if style < 0.6:
            return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
        if style < 0.85:
            return ts.strftime("%Y-%m-%dT%H:%M:%SZ")
        return ts.replace(microsecond=0).isoformat()

    # ------------------------------------------------------------ bodies

    def booking_payload(self, chain: Chain, uid: str, status: str, *, metadata: bool,
                        reschedule_uid: str | None = None, **extra) -> dict[str, Any]:
        self.booking_id += 1
        payload: dict[str, Any] = {
            "type": chain.event_type,
            "title": f"{chain.event_type.replace('-', ' ').title()} with {chain.booker_name}",
            "startTime": self.fmt(chain.start), "endTime": self.fmt(chain.end),
            "organizer": {"id": chain_host(chain)[0], "name": chain_host(chain)[1],
                          "email": chain_host(chain)[2],
                          "timeZone": "Europe/Berlin"},
            "attendees": [attendee(chain)],
            "uid": uid, "bookingId": self.booking_id, "status": status,
            "location": chain_location(chain), "eventTypeId": EVENT_TYPES[chain.event_type][0],
            "eventTitle": EVENT_TYPES[chain.event_type][1],
            "metadata": ({"leadId": chain.metadata_lead_id}
                         if metadata and chain.metadata_lead_id else {}),
            "smsReminderNumber": chain.sms,
        }
        if reschedule_uid:
            payload["rescheduleUid"] = reschedule_uid
        if chain.paid:
            payload.update(price=PRICE, currency="usd")
        if chain.session is not None:
            payload.update(seatsPerTimeSlot=SEATS_PER_SLOT, seatsShowAttendees=False)
        if chain.series is not None:
            payload["recurringEvent"] = dict(RECURRENCE)
        payload.update(extra)
        return payload

    def add(self, chain: Chain, trigger: str, sent_at: datetime, payload: dict[str, Any],
            uid: str | None, flat: bool = False) -> bool:
        """Record an event Cal.com sends at ``sent_at``; False if that is after as_of."""
        sent_at = sent_at.replace(microsecond=0)  # Cal.com sends whole milliseconds at most
        if sent_at > self.as_of:
            return False
        if chain.sends_root and uid != chain.root_uid and trigger in (
                "BOOKING_CREATED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED") + MEETING:
            # newer Cal.com names the chain's first booking
            payload = {**payload, "rootBookingUid": chain.root_uid}
        if flat:
            body = {"triggerEvent": trigger, **payload}
        else:
            body = {"triggerEvent": trigger, "createdAt": self.fmt(sent_at), "payload": payload}
        chain.events.append(Event(trigger, sent_at, body, uid))
        return True

    # ------------------------------------------------------------ leads

    def make_leads(self) -> list[Lead]:
        rng = self.rng
        start = self.as_of - timedelta(days=7 * self.weeks)
        leads: list[Lead] = []
        for i in range(self.n_leads):
            created = start + timedelta(seconds=rng.uniform(0, (self.as_of - start)
                                                            .total_seconds() - 3600))
            first, last = rng.choice(FIRST), rng.choice(LAST)
            source = rng.choices([s for s, _ in SOURCES], [w for _, w in SOURCES])[0]
            roll = rng.random()
            if roll < 0.05:
                status, eligible = rng.choice(["Spam", "Test", "Disqualified"]), False
            elif roll < 0.06:
                status, eligible = "Hot lead", True  # unmapped on purpose
            else:
                status, eligible = rng.choice(["New", "New", "Qualified", ""]), True
            email = f"{first}.{last}.{i}@example.com".lower()
            leads.append(Lead(f"L-{self.seed:03d}-{i:05d}", created, email, f"{first} {last}",
                              source, status, eligible, invited_at=created))
        # a few people fill in the form twice: a second lead with the same email
        for lead in rng.sample(leads, k=max(1, len(leads) // 50)):
            later = lead.created_at + timedelta(days=rng.uniform(3, 20))
            if later < self.as_of - timedelta(hours=2):
                leads.append(Lead(f"{lead.lead_id}-b", later, lead.email, lead.name,
                                  rng.choice(["ads", "organic"]), "New", True, invited_at=later))
        return leads

    # ------------------------------------------------------------ chains

    def make_chain(self, owner: Lead | None, booked_at: datetime, email: str,
                   name: str) -> Chain:
        rng = self.rng
        uses_metadata = owner is not None and rng.random() < 0.8
        metadata_lead = owner.lead_id if uses_metadata else None
        if uses_metadata and rng.random() < 0.03:
            metadata_lead = f"L-stale-{rng.randint(1, 999)}"  # unknown id: email fallback
        sent_email = email
        if rng.random() < 0.2:
            sent_email = f"  {email.upper()} " if rng.random() < 0.5 else email.title()
        chain = Chain(
            root_uid=self.uid(), owner=owner, booker_email=sent_email, booker_name=name,
            event_type=rng.choice(["intro-call", "intro-call", "strategy-session"]),
            uses_metadata=uses_metadata, metadata_lead_id=metadata_lead,
            requires_confirmation=rng.random() < 0.15, booked_at=booked_at)
        chain.uids.append(chain.root_uid)
        # the strategy session is paid on some accounts; half the accounts run a Cal.com
        # new enough to send rootBookingUid
        chain.paid = (chain.event_type == "strategy-session" and not chain.requires_confirmation
                      and self.shapes.random() < 0.35)
        chain.sends_root = self.shapes.random() < 0.5
        lead_days = rng.choices([0, 1, 2, 3, 5, 7, 10, 14, 18],
                                [8, 14, 12, 12, 14, 12, 10, 10, 8])[0]
        chain.start = self.slot(booked_at, lead_days)
        chain.end = chain.start + timedelta(minutes=30)
        if lead_days >= 1 and rng.random() < 0.45:
            chain.sms = f"+1415555{rng.randint(1000, 9999)}"
        self.simulate(chain)
        return chain

    def slot(self, after: datetime, lead_days: int, rng: random.Random | None = None) -> datetime:
        rng = rng or self.rng
        day = after + timedelta(days=lead_days)
        hour = rng.randint(8, 17)
        slot = day.replace(hour=hour, minute=rng.choice([0, 30]), second=0, microsecond=0)
        if slot <= after + timedelta(minutes=30):
            slot = after + timedelta(hours=rng.uniform(1, 5))
            slot = slot.replace(second=0, microsecond=0)
        return slot

    def simulate(self, chain: Chain) -> None:
        rng = self.rng
        t = chain.booked_at
        uid = chain.root_uid
        if chain.requires_confirmation:
            self.add(chain, "BOOKING_REQUESTED", t,
                     self.booking_payload(chain, uid, "PENDING", metadata=True,
                                          requiresConfirmation=True), uid)
            decide = t + timedelta(hours=rng.uniform(1, 20))
            # the host decides before the slot, or never; undecided by as_of = pending
            if decide < chain.start and decide <= self.as_of:
                if rng.random() < 0.15:
                    self.add(chain, "BOOKING_REJECTED", decide,
                             self.booking_payload(chain, uid, "REJECTED", metadata=False,
                                                  rejectionReason="Outside service area"), uid)
                    chain.state = "rejected"
                    return
                # the confirmation's BOOKING_CREATED is built from the booking row,
                # without the request's metadata (handleConfirmation.ts); the draw
                # stays so that the seed's other draws do not move
                rng.random()
                self.add(chain, "BOOKING_CREATED", decide,
                         self.booking_payload(chain, uid, "ACCEPTED", metadata=False), uid)
                chain.state = "accepted"
                t = decide
            else:
                chain.state = "pending"
                return
        elif chain.paid:
            # the booking waits for payment: BOOKING_PAYMENT_INITIATED carries the
            # request's metadata; once paid, BOOKING_CREATED (without it,
            # handleConfirmation.ts) and BOOKING_PAID; never paid: it stays pending
            self.add(chain, "BOOKING_PAYMENT_INITIATED", t,
                     self.booking_payload(chain, uid, "ACCEPTED", metadata=True,
                                          paymentId=self.booking_id), uid)
            paid_at = t + timedelta(minutes=self.shapes.uniform(1, 180))
            if self.shapes.random() < 0.12 or paid_at > self.as_of or paid_at >= chain.start:
                chain.state = "pending"
                return
            self.add(chain, "BOOKING_CREATED", paid_at,
                     self.booking_payload(chain, uid, "ACCEPTED", metadata=False), uid)
            self.add(chain, "BOOKING_PAID", paid_at + timedelta(seconds=2),
                     self.booking_payload(chain, uid, "ACCEPTED", metadata=False, paid=True,
                                          paymentId=self.booking_id), uid)
            t = paid_at
        else:
            self.add(chain, "BOOKING_CREATED", t,
                     self.booking_payload(chain, uid, "ACCEPTED", metadata=True), uid)
        # reschedules
        n_resched = rng.choices([0, 1, 2], [75, 20, 5])[0]
        for _ in range(n_resched):
            when = t + (chain.start - t) * rng.uniform(0.2, 0.8)
            if when > self.as_of or when >= chain.start:
                break
            new_uid = self.uid()
            chain.start = self.slot(when, rng.choice([1, 2, 3, 5, 7]))
            chain.end = chain.start + timedelta(minutes=30)
            if chain.requires_confirmation:
                self.add(chain, "BOOKING_REQUESTED", when,
                         self.booking_payload(chain, new_uid, "PENDING", metadata=True,
                                              reschedule_uid=uid), new_uid)
                confirm = when + timedelta(hours=rng.uniform(0.5, 6))
                chain.uids.append(new_uid)
                uid = new_uid
                if confirm > self.as_of or confirm >= chain.start:
                    chain.state = "pending"
                    return
                self.add(chain, "BOOKING_CREATED", confirm,
                         self.booking_payload(chain, new_uid, "ACCEPTED", metadata=False), new_uid)
                t = confirm
            else:
                self.add(chain, "BOOKING_RESCHEDULED", when,
                         self.booking_payload(chain, new_uid, "ACCEPTED", metadata=True,
                                              reschedule_uid=uid), new_uid)
                chain.uids.append(new_uid)
                uid = new_uid
                t = when
        # cancellation
        if rng.random() < 0.13:
            when = t + (chain.start - t) * rng.uniform(0.1, 0.95)
            if when <= self.as_of:
                chain.cancellation_reason = rng.choice(CANCEL_REASONS)
                host_request = rng.random() < 0.15
                extra: dict[str, Any] = {"cancelledBy": chain.booker_email.strip().lower()}
                if chain.cancellation_reason:
                    extra["cancellationReason"] = chain.cancellation_reason
                if host_request:
                    extra["requestReschedule"] = True
                    extra["cancelledBy"] = chain_host(chain)[2]
                chain.cancelled_by = extra["cancelledBy"]
                self.add(chain, "BOOKING_CANCELLED", when,
                         self.booking_payload(chain, uid, "CANCELLED", metadata=False, **extra),
                         uid)
                chain.state = "cancelled"
                return
        self.after_slot(chain, uid)

    def video_no_show(self, chain: Chain, uid: str, *, host: bool) -> dict[str, Any]:
        """Cal Video's no-show report, ten minutes into the meeting: the booking's
        attendees as stored (their noShow not yet set), the call's participants, and for
        a host the host's email (triggerNoShow/common.ts)."""
        data: dict[str, Any] = {
            "title": f"{EVENT_TYPES[chain.event_type][1]} with {chain.booker_name}",
            "bookingId": 1, "bookingUid": uid, "startTime": self.fmt(chain.start),
            "endTime": self.fmt(chain.end), "participants": [],
            "attendees": [{"email": chain.booker_email.strip().lower(),
                           "name": chain.booker_name, "noShow": False}],
            "eventType": {"id": EVENT_TYPES[chain.event_type][0], "slug": chain.event_type}}
        if host:
            data["hostEmail"] = chain_host(chain)[2]
            data["message"] = f"Host with email {data['hostEmail']} didn't join the call"
        else:
            data["message"] = "Guest didn't join the call"
        return data

    def after_slot(self, chain: Chain, uid: str) -> None:
        rng = self.rng
        if chain.end > self.as_of:
            return
        lead_days = (chain.start.date() - chain.booked_at.date()).days
        p_no_show = 0.12 + 0.012 * min(lead_days, 14) - (0.06 if chain.sms else 0.0)
        roll = rng.random()
        if roll < 0.02:
            chain.attendance = "host_no_show"
        elif roll < 0.02 + p_no_show:
            chain.attendance = "no_show"
        else:
            chain.attendance = "attended"
        email = chain.booker_email.strip().lower()
        if chain.attendance == "host_no_show":
            if rng.random() < 0.7 and self.add(
                    chain, "AFTER_HOSTS_CAL_VIDEO_NO_SHOW", chain.start + timedelta(minutes=10),
                    self.video_no_show(chain, uid, host=True), uid):
                chain.evidence = "cal_video"
            elif self.shapes.random() < 0.5:
                # the host marks themselves absent by hand: Cal.com sends no webhook for
                # it (handleMarkNoShow.ts); only the API's absentHost shows it
                marked = chain.end + timedelta(minutes=self.shapes.uniform(5, 300))
                if marked <= self.as_of:
                    chain.host_marked_at = marked.replace(microsecond=0)
        elif chain.attendance == "no_show":
            r = rng.random()
            if r < 0.55:
                if self.add(chain, "BOOKING_NO_SHOW_UPDATED",
                            chain.end + timedelta(minutes=rng.uniform(5, 600)),
                            {"message": "x_marked_as_no_show", "bookingUid": uid, "bookingId": 1,
                             "attendees": [{"email": email, "noShow": True}]}, uid):
                    chain.evidence = "calcom"
            elif r < 0.75:
                if self.add(chain, "AFTER_GUESTS_CAL_VIDEO_NO_SHOW",
                            chain.start + timedelta(minutes=10),
                            self.video_no_show(chain, uid, host=False), uid):
                    chain.evidence = "cal_video"
        elif rng.random() < 0.06:
            # marked as no-show by mistake, then un-marked: no evidence either way
            mark_at = chain.end + timedelta(minutes=rng.uniform(5, 60))
            marked = self.add(chain, "BOOKING_NO_SHOW_UPDATED", mark_at,
                              {"message": "x_marked_as_no_show", "bookingUid": uid,
                               "bookingId": 1,
                               "attendees": [{"email": email, "noShow": True}]}, uid)
            unmark_at = mark_at + timedelta(minutes=rng.uniform(5, 90))
            unmarked = self.add(chain, "BOOKING_NO_SHOW_UPDATED", unmark_at,
                                {"message": "x_unmarked_as_no_show", "bookingUid": uid,
                                 "bookingId": 1,
                                 "attendees": [{"email": email, "noShow": False}]}, uid)
            if marked and not unmarked:
                # as of now the mistaken mark stands: Cal.com's evidence says no-show
                chain.evidence = "calcom"
        if rng.random() < 0.5:
            # sent at the slot end (already past here) but carrying the booking's createdAt
            flat = self.booking_payload(chain, uid, "ACCEPTED", metadata=False)
            flat["createdAt"] = self.fmt(chain.booked_at)
            flat["attendees"] = [dict(flat["attendees"][0], noShow=False)]
            self.add(chain, "MEETING_ENDED", chain.booked_at, flat, uid, flat=True)

    # ------------------------------------------------------------ seats

    def make_seats(self, leads: list[Lead]) -> tuple[list[Chain], list[Session]]:
        """Some leads book a seat on a group workshop. Each seat is its attendee's
        booking on the session's Cal.com uid; the first seat of a session stays (so a
        session never empties), the others may cancel theirs; after the slot the host
        marks some absent attendees."""
        r = self.shapes
        sessions: list[Session] = []
        seats: list[Chain] = []
        for lead in leads:
            if not lead.eligible or r.random() >= 0.07:
                continue
            booked = (lead.created_at + timedelta(hours=r.expovariate(1 / 30))).replace(
                microsecond=0)
            if booked > self.as_of - timedelta(minutes=20):
                continue
            email = lead.email.strip().lower()
            open_sessions = [s for s in sessions
                             if booked + timedelta(hours=2) < s.start <= booked + timedelta(days=10)
                             and len(s.seats) < SEATS_PER_SLOT
                             and all(seat.booker_email.strip().lower() != email
                                     for seat in s.seats)]
            if open_sessions:
                session = open_sessions[0]
            else:
                start = self.slot(booked, r.choice([2, 3, 5, 7]), rng=r)
                session = Session(self.uid(r), start, start + timedelta(hours=1))
                sessions.append(session)
            uses_metadata = r.random() < 0.8
            sent_email = lead.email if r.random() < 0.8 else lead.email.title()
            seat = Chain(
                root_uid=seat_uid(session.uid, email), owner=lead, booker_email=sent_email,
                booker_name=lead.name, event_type=SEATED, uses_metadata=uses_metadata,
                metadata_lead_id=lead.lead_id if uses_metadata else None,
                requires_confirmation=False, booked_at=booked, start=session.start,
                end=session.end, session=session,
                seat_ref="".join(r.choices(string.ascii_lowercase + string.digits, k=22)))
            seat.uids.append(seat.root_uid)
            session.seats.append(seat)
            seats.append(seat)
        for session in sessions:
            ordered = sorted(session.seats, key=lambda seat: seat.booked_at)
            for seat in ordered[1:]:
                if r.random() < 0.15:
                    left = seat.booked_at + (session.start - seat.booked_at) * r.uniform(0.1, 0.9)
                    if left <= self.as_of:
                        seat.left_at = left.replace(microsecond=0)
                        seat.state = "cancelled"
                        seat.cancellation_reason = r.choice(CANCEL_REASONS)
                        seat.cancelled_by = seat.booker_email.strip().lower()
            self.seat_events(session, ordered)
        return seats, sessions

    def seat_events(self, session: Session, ordered: list[Chain]) -> None:
        """The bodies Cal.com sends for a session, in time order. A new seat's
        BOOKING_CREATED lists the attendees already booked and then the new one, with
        the new seat's ``attendeeSeatId`` and the new booker's metadata (createNewSeat.ts,
        handleSeats.ts); a seat's cancellation lists only the leaving attendee
        (cancelAttendeeSeat.ts); a no-show mark lists the marked attendee."""
        r = self.shapes
        for seat in ordered:
            present = [other for other in ordered if other.booked_at < seat.booked_at
                       and (other.left_at is None or other.left_at > seat.booked_at)]
            listed = [dict(attendee(other), bookingSeat={"referenceUid": other.seat_ref})
                      for other in present] + [attendee(seat)]
            payload = self.booking_payload(seat, session.uid, "ACCEPTED", metadata=True,
                                           attendees=listed, attendeeSeatId=seat.seat_ref)
            event = Event("BOOKING_CREATED", seat.booked_at,
                          {"triggerEvent": "BOOKING_CREATED", "createdAt": self.fmt(seat.booked_at),
                           "payload": payload}, session.uid, for_seat=seat.root_uid)
            for other in [*present, seat]:
                other.events.append(event)  # one body: a statement about each it lists
            if seat.left_at is not None:
                extra: dict[str, Any] = {"cancelledBy": seat.cancelled_by}
                if seat.cancellation_reason:
                    extra["cancellationReason"] = seat.cancellation_reason
                self.add(seat, "BOOKING_CANCELLED", seat.left_at,
                         self.booking_payload(seat, session.uid, "CANCELLED", metadata=False,
                                              **extra), session.uid)
            elif session.end <= self.as_of:
                seat.attendance = "no_show" if r.random() < 0.15 else "attended"
                if seat.attendance == "no_show" and r.random() < 0.6:
                    marked = session.end + timedelta(minutes=r.uniform(5, 600))
                    if self.add(seat, "BOOKING_NO_SHOW_UPDATED", marked,
                                {"message": "x_marked_as_no_show", "bookingUid": session.uid,
                                 "bookingId": 1, "attendees": [
                                     {"email": seat.booker_email.strip().lower(),
                                      "noShow": True}]}, session.uid):
                        seat.evidence = "calcom"

    # ------------------------------------------------------------ recurring series

    def make_series(self, leads: list[Lead]) -> list[Chain]:
        """Some leads book a weekly coaching series: one booking per occurrence, each
        sent as its own BOOKING_CREATED within seconds (handleNewRecurringBooking.ts).
        "Cancel all remaining" sends one BOOKING_CANCELLED, for the occurrence acted on,
        and cancels the later ones without a webhook (handleCancelBooking.ts)."""
        r = self.shapes
        occurrences: list[Chain] = []
        for lead in leads:
            if not lead.eligible or r.random() >= 0.02:
                continue
            booked = (lead.created_at + timedelta(hours=r.expovariate(1 / 40))).replace(
                microsecond=0)
            if booked > self.as_of - timedelta(minutes=20):
                continue
            series = Series("".join(r.choices(string.ascii_lowercase + string.digits, k=24)))
            uses_metadata = r.random() < 0.8
            first = self.slot(booked, r.choice([1, 2, 3, 5]), rng=r)
            sends_root = r.random() < 0.5
            for index in range(RECURRENCE["count"]):
                chain = Chain(
                    root_uid=self.uid(r), owner=lead, booker_email=lead.email,
                    booker_name=lead.name, event_type=RECURRING, uses_metadata=uses_metadata,
                    metadata_lead_id=lead.lead_id if uses_metadata else None,
                    requires_confirmation=False,
                    booked_at=booked + timedelta(seconds=2 * index),
                    start=first + timedelta(days=7 * index), series=series,
                    sends_root=sends_root)
                chain.end = chain.start + timedelta(minutes=45)
                chain.uids.append(chain.root_uid)
                series.occurrences.append(chain)
                self.add(chain, "BOOKING_CREATED", chain.booked_at,
                         self.booking_payload(chain, chain.root_uid, "ACCEPTED", metadata=True),
                         chain.root_uid)
            last = series.occurrences[-1]
            if r.random() < 0.35:
                at = (booked + (last.start - booked) * r.uniform(0.2, 0.9)).replace(microsecond=0)
                remaining = [c for c in series.occurrences if c.start >= at]
                if at <= self.as_of and remaining:
                    series.cancelled_at = at
                    acted_on, rest = remaining[0], remaining[1:]
                    reason = r.choice(CANCEL_REASONS)
                    extra: dict[str, Any] = {"cancelledBy": lead.email}
                    if reason:
                        extra["cancellationReason"] = reason
                    self.add(acted_on, "BOOKING_CANCELLED", at,
                             self.booking_payload(acted_on, acted_on.root_uid, "CANCELLED",
                                                  metadata=False, **extra), acted_on.root_uid)
                    for chain in remaining:
                        chain.state, chain.cancellation_reason = "cancelled", reason
                        chain.cancelled_by = lead.email
                    for chain in rest:
                        chain.silently_cancelled_at = at
            for chain in series.occurrences:
                if chain.state == "accepted" and chain.end <= self.as_of:
                    chain.attendance = "no_show" if r.random() < 0.15 else "attended"
                    if chain.attendance == "no_show" and r.random() < 0.55:
                        marked = chain.end + timedelta(minutes=r.uniform(5, 600))
                        if self.add(chain, "BOOKING_NO_SHOW_UPDATED", marked,
                                    {"message": "x_marked_as_no_show",
                                     "bookingUid": chain.root_uid, "bookingId": 1,
                                     "attendees": [{"email": lead.email, "noShow": True}]},
                                    chain.root_uid):
                            chain.evidence = "calcom"
            occurrences.extend(series.occurrences)
        return occurrences

    # ------------------------------------------------------------ CRM side

    def crm_view(self, lead: Lead, own: list[Chain]) -> None:
        """``own``: the lead's chains, by booked_at."""
        rng = self.rng
        spell = lambda state: rng.choice(CRM_SPELLINGS[state])  # noqa: E731
        lag = lambda: timedelta(minutes=rng.uniform(2, 45))  # noqa: E731
        if not own:
            choice = rng.random()
            lead.booking_status = spell("invited") if choice < 0.7 else ""
            lead.updated_at = lead.created_at + timedelta(minutes=rng.uniform(1, 30))
        else:
            latest = own[-1]
            known_at = latest.booked_at + lag()
            lead.crm_booked_at = own[0].booked_at + lag() if own[0].booked_at + timedelta(
                minutes=45) <= self.as_of else None
            last_change = max([e.sent_at for e in latest.events if e.trigger in LIFECYCLE],
                              default=latest.booked_at)
            if latest.state == "cancelled" and rng.random() > 0.12:
                lead.booking_status, lead.updated_at = spell("cancelled"), last_change + lag()
            elif latest.state == "rejected":
                lead.booking_status, lead.updated_at = spell("cancelled"), last_change + lag()
            elif latest.attendance == "attended" and rng.random() < 0.55:
                lead.booking_status = spell("completed")
                lead.updated_at = latest.end + timedelta(hours=rng.uniform(0.5, 30))
            elif latest.attendance == "no_show" and rng.random() < 0.5:
                conflict = latest.evidence == "calcom" and rng.random() < 0.15
                lead.booking_status = spell("completed" if conflict else "no_show")
                lead.updated_at = latest.end + timedelta(hours=rng.uniform(0.5, 30))
            elif rng.random() < 0.07:
                lead.booking_status = spell("invited")  # CRM never caught the booking
                lead.updated_at = lead.created_at + timedelta(minutes=5)
                lead.crm_booked_at = None
            else:
                state = "rescheduled" if len(latest.uids) > 1 else "booked"
                lead.booking_status = spell(state)
                lead.updated_at = max(known_at, last_change + lag())
            if lead.updated_at and lead.updated_at > self.snapshot_at:
                # not synced yet when the snapshot was taken: the previous state shows
                lead.booking_status = spell("rescheduled" if len(latest.uids) > 1 else "booked")
                lead.updated_at = max(known_at, last_change + lag())
                if lead.updated_at > self.snapshot_at:
                    lead.booking_status, lead.updated_at = spell("invited"), lead.created_at
                    lead.crm_booked_at = None
            if lead.crm_booked_at and lead.crm_booked_at > self.snapshot_at:
                lead.crm_booked_at = None
            sendable = latest.start - timedelta(hours=24)
            if latest.state in ("accepted",) and rng.random() < 0.35 and \
                    latest.booked_at < sendable <= self.as_of:
                lead.reminder_sent_at = sendable
        if rng.random() < 0.1:
            lead.updated_at = None  # this export has no updated_at for the row
        lead.crm_state = normalize_crm(lead.booking_status, lead.lead_status)

    # ------------------------------------------------------------ extra loss

    def lose_webhooks(self, chains: list[Chain]) -> None:
        """Lose one more webhook of a share of chains, of the kinds Cal.com's API can
        repair: a creation (booked, requested, rescheduled, confirmed), a cancellation or
        rejection, a no-show mark. Own random stream: other draws stay as they were."""
        rng = random.Random(self.seed * 7919 + 17)
        for chain in chains:
            if chain.drop_all or rng.random() >= self.lossy:
                continue
            candidates = [e for e in chain.events if e.delivered and (
                e.trigger in LIFECYCLE or (
                    e.trigger == "BOOKING_NO_SHOW_UPDATED"
                    and e.body["payload"]["attendees"][0]["noShow"]
                    and chain.attendance == "no_show"))]
            if candidates:
                rng.choice(candidates).delivered = False

    # ------------------------------------------------------------ all

    def run(self) -> Scenario:
        rng = self.rng
        self.snapshot_at = self.as_of - timedelta(minutes=30)
        leads = self.make_leads()
        chains: list[Chain] = []
        for lead in list(leads):
            p_book = BOOK_PROBABILITY[lead.source] if lead.eligible else 0.05
            if rng.random() >= p_book:
                continue
            if rng.random() < 0.03:
                # the lead record was created from the booking
                booked = lead.created_at - timedelta(minutes=rng.uniform(5, 60))
            elif rng.random() < 0.12:
                booked = lead.created_at + timedelta(days=rng.uniform(10, 24))
            else:
                booked = lead.created_at + timedelta(hours=rng.expovariate(1 / 40))
            if booked > self.as_of - timedelta(minutes=20):
                continue
            chain = self.make_chain(lead, booked, lead.email, lead.name)
            chains.append(chain)
            # some come back after a cancellation or no-show
            if chain.state == "cancelled" or chain.attendance == "no_show":
                if rng.random() < 0.35:
                    last_event = max(e.sent_at for e in chain.events)
                    again = last_event + timedelta(hours=rng.uniform(2, 72))
                    if again < self.as_of - timedelta(minutes=20):
                        chains.append(self.make_chain(lead, again, lead.email, lead.name))
        # bookings from people who are not CRM leads
        for i in range(max(2, self.n_leads // 25)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            booked = self.as_of - timedelta(days=rng.uniform(0.1, 7 * self.weeks - 1))
            email = f"walkin.{i}.{last}@elsewhere.example".lower()
            chains.append(self.make_chain(None, booked, email, f"{first} {last}"))
        # missed webhooks
        for chain in chains:
            if chain.owner is not None and rng.random() < 0.035:
                chain.drop_all = True
            elif len(chain.uids) > 1 and rng.random() < 0.25:
                chain.drop_root_creation = True
            if chain.drop_all:
                for e in chain.events:
                    e.delivered = False
            elif chain.drop_root_creation:
                for e in chain.events:
                    if e.uid == chain.root_uid and e.trigger in CREATION:
                        e.delivered = False
        # seats and series (their own random stream), and their missed webhooks
        seat_chains, sessions = self.make_seats(leads)
        extra = seat_chains + self.make_series(leads)
        shapes = self.shapes
        for chain in extra:
            if chain.session is not None and shapes.random() < 0.04 and any(
                    e.delivered for other in chain.session.seats if other is not chain
                    for e in other.events if e.for_seat == other.root_uid):
                # (another seat's creation still says the event type is seated: from
                # a no-show mark alone, nobody can tell a seat from a booking)
                for e in chain.events:
                    if e.for_seat == chain.root_uid:
                        e.delivered = False  # the seat's creation (a statement of others too)
            elif chain.series is not None and shapes.random() < 0.035:
                chain.drop_all = True
                for e in chain.events:
                    e.delivered = False
        # a lost middle reschedule: a chain stays whole when newer Cal.com names its root
        for chain in chains:
            if chain.sends_root and len(chain.uids) >= 3 and not chain.drop_all \
                    and shapes.random() < 0.5:
                for e in chain.events:
                    if e.uid in chain.uids[1:-1] and e.trigger in CREATION:
                        e.delivered = False
        if self.lossy:
            self.lose_webhooks(chains + extra)
        # owner confirmations for some slots nobody recorded
        for chain in chains:
            if (chain.state == "accepted" and chain.attendance == "attended"
                    and chain.evidence is None and rng.random() < 0.25
                    and chain.end < self.as_of - timedelta(hours=30)):
                chain.manual = ("completed", self.as_of - timedelta(hours=rng.uniform(1, 20)))
        chains = chains + extra
        by_owner: dict[int, list[Chain]] = {}
        for chain in chains:
            if chain.owner is not None:
                by_owner.setdefault(id(chain.owner), []).append(chain)
        for lead in leads:
            own = sorted(by_owner.get(id(lead), []), key=lambda c: c.booked_at)
            self.crm_view(lead, own)
        ping = Event("PING", self.as_of - timedelta(days=7 * self.weeks),
                     {"triggerEvent": "PING", "createdAt": self.fmt(
                         self.as_of - timedelta(days=7 * self.weeks)),
                      "payload": {"type": "Test", "title": "Test trigger event"}}, None)
        bodies = [json.dumps(ping.body).encode()]
        sent: set[int] = set()  # a seat's creation is one body in several seats' events
        for chain in chains:
            for event in chain.events:
                if event.delivered and id(event) not in sent:
                    sent.add(id(event))
                    body = json.dumps(event.body, separators=rng.choice(
                        [(",", ":"), (", ", ": ")])).encode()
                    bodies.append(body)
                    if rng.random() < 0.05:
                        bodies.append(body)  # delivered twice
        rng.shuffle(bodies)
        return Scenario(self.seed, self.as_of, self.snapshot_at, leads, chains, bodies, ping,
                        lossy=self.lossy, sessions=sessions)


def normalize_crm(booking_status: str, lead_status: str) -> str:
    """The CRM state the seed mapping must produce (kept independent of the SQL)."""
    table = {"meeting booked": "booked", "booked": "booked", "scheduled": "booked",
             "call booked": "booked", "rescheduled": "rescheduled",
             "meeting rescheduled": "rescheduled", "showed": "completed",
             "attended": "completed", "completed": "completed", "no show": "no_show",
             "canceled": "cancelled", "cancelled": "cancelled", "link sent": "invited",
             "new": "invited"}
    key = " ".join("".join(ch if ch.isalnum() else " " for ch in booking_status.lower()).split())
    if key:
        return table.get(key, "unknown")
    lead_key = lead_status.strip().lower()
    if lead_key == "new":
        return "invited"
    if lead_key == "hot lead":
        return "unknown"
    return "none"


def generate(seed: int, *, as_of: datetime, leads: int = 300, weeks: int = 8,
             report_timezone: str = "UTC", lossy: float = 0.0) -> Scenario:
    """``lossy``: the share of chains that lose one more webhook (a creation, a
    cancellation or rejection, a no-show mark), beyond the usual missed ones."""
    if as_of.tzinfo is None:
        raise ValueError("as_of needs a timezone")
    gen = _Gen(seed, as_of.astimezone(UTC), leads, weeks)
    gen.lossy = lossy
    scenario = gen.run()
    scenario.report_timezone = report_timezone
    return scenario


# ====================================================================== oracle
