"""The Monday digest: last week's read as an email (plain text + HTML + an inline PNG
chart) and a Slack message, built from the marts with the page's honesty rules.

The plain-text part is complete on its own (screen readers, watches, previews show it);
the HTML is tables with inline styles (what survives Gmail and Outlook); the chart is
drawn by matplotlib without a browser and attached inline by ``cid:``. Slack incoming
webhooks cannot upload images: the Slack message is text blocks and the link, and it
names nobody unless asked (channels are wider audiences).
"""

from __future__ import annotations

import io
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from report.data import (
    ReportData,
    headline_cards,
    recovery_line,
    reminder_reading,
    week_answer,
    week_range,
)
from report.wording import outcome_label, plural, source_label

FOLLOWUPS_NAMED = 5


class DigestError(RuntimeError):
    """The digest could not be sent; the message names the server and the reason."""


@dataclass
class Digest:
    subject: str
    text: str
    html: str
    png: bytes
    slack: dict[str, Any]
    trusted: bool  # False: the feed is not healthy, outcome numbers are left out
    cid: str = ""  # the chart's Content-ID, as the HTML references it


# ------------------------------------------------------------------ the content


def trend_png(data: ReportData) -> bytes:
    """The 12-week trend as a PNG (matplotlib, no browser); small samples hollow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = data.trend
    weeks = ["W" + str(r["iso_week"]).split("-W")[-1] for r in rows]
    fig, ax = plt.subplots(figsize=(6.0, 2.6), dpi=100)
    # told apart without colour too: solid with dots, dashed with squares
    series = [("book_rate", "Book rate", "#2456c5", "-", "o",
               lambda r: int(r["eligible_leads"] or 0))]
    if not data.fallback:
        series.append(("no_show_rate", "No-show rate", "#c2410c", "--", "s",
                       lambda r: int(r["completed_meetings"] or 0) + int(r["no_shows"] or 0)))
    for key, label, colour, style, marker, cases in series:
        xs = [i for i, r in enumerate(rows) if r[key] is not None]
        ys = [100 * float(rows[i][key]) for i in xs]
        ax.plot(xs, ys, color=colour, linewidth=2, linestyle=style, label=label)
        for i, y in zip(xs, ys, strict=True):
            small = 0 < cases(rows[i]) < 10
            ax.plot([i], [y], marker=marker, markersize=5, color=colour,
                    markerfacecolor="white" if small else colour)
            if key == "book_rate" and rows[i].get("is_book_rate_provisional"):
                ax.plot([i], [y], marker="o", markersize=11, color=colour,
                        markerfacecolor="none", linewidth=0)
    ax.set_ylim(0, 100)
    ax.set_yticks([0, 25, 50, 75, 100])
    ax.set_yticklabels([f"{t}%" for t in (0, 25, 50, 75, 100)], fontsize=8)
    ax.set_xticks(range(len(weeks)))
    ax.set_xticklabels(weeks, fontsize=8)
    ax.grid(axis="y", color="#e3e6ec")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.set_title(f"Last {len(rows)} weeks (hollow: fewer than 10 cases; ringed: "
                 "provisional)", fontsize=9, color="#5b6270")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()


def build(data: ReportData, *, public_url: str | None, slack_names: bool = False) -> Digest:
    if data.empty or data.week is None:
        raise DigestError("the marts have no weeks yet: run `booking-report refresh` first")
    week = data.iso_week
    title = f"Bookings and no-shows, week {week} ({week_range(data.week)})"
    scope = source_label(data.source)
    feed = data.feed or {}
    trusted = not data.fallback
    r = data.row or {}
    cards = headline_cards(data)
    by_key = {c["key"]: c for c in cards}
    # the subject names the week and its headline numbers (the no-show rate only when
    # it is shown, and never without what it is out of)
    numbers = [f"book rate {by_key['book_rate']['value']}"]
    if not by_key["no_show_rate"]["hidden"] and r.get("no_show_rate") is not None:
        numbers.append(f"no-shows {by_key['no_show_rate']['value']} "
                       f"({by_key['no_show_rate']['basis']})")
    subject = (f"Week {week}: {', '.join(numbers)}"
               f"{'' if data.source == 'all' else ' · ' + scope}")
    answer = week_answer(data, cards)["text"]
    if not trusted:
        status_line = (f"Cal.com feed {feed.get('status')}: {feed.get('status_reason')}. "
                       "Completed and no-show numbers need someone to confirm them, so they "
                       "are left out of this digest.")
    elif data.unresolved:
        status_line = (f"Cal.com feed healthy, but {plural(data.unresolved, 'meeting')} "
                       "still have no outcome: the no-show rate counts only meetings with one.")
    else:
        status_line = "Cal.com feed healthy; every past meeting of the week has an outcome."
    followups = data.followups
    named = [f for f in followups[:FOLLOWUPS_NAMED]]
    review = data.review_open
    reading = reminder_reading(data)
    recovered = recovery_line(feed) or ""
    link = public_url.rstrip("/") + f"/report?week={week}" if public_url else None

    # ---- plain text (complete on its own)
    lines = [title, f"{scope}", "", answer, "", status_line, ""]
    for c in cards:
        if c["hidden"]:
            lines.append(f"- {c['label']}: needs manual confirm")
            continue
        small = "; small sample" if c["small"] else ""
        prior = f" ({c['prior_basis']})" if c["prior_basis"] else ""
        note = f" ({c['change_note']})" if c["change_note"] else ""
        lines.append(f"- {c['label']}: {c['value']} ({c['basis']}{small}); last week "
                     f"{c['prior']}{prior}, change {c['change']}{note}")
        lines += [f"    {n}" for n in c["notes"]]
    meetings = (f"Meetings this week: {r.get('meetings_scheduled', 0)} scheduled, "
                + (f"{r.get('completed_meetings', 0)} completed, "
                   f"{plural(r.get('no_shows'), 'no-show')}, "
                   f"{plural(r.get('host_no_shows'), 'host no-show')}, " if trusted else "")
                + f"{data.unresolved} without an outcome yet, {r.get('upcoming_meetings', 0)} "
                  "still to come.")
    leads_line = (f"Leads created this week: {r.get('eligible_leads', 0)} eligible, "
                  f"{r.get('booked_leads', 0)} booked within 14 days.")
    lines += ["", leads_line, meetings]
    if recovered:
        lines += [recovered]
    follow_phrase = plural(data.followups_total, "recent no-show or cancellation",
                           "recent no-shows and cancellations")
    lines += ["", f"Follow up: {follow_phrase}."]
    for f in named:
        when = f["start_at"].strftime("%a %b %d, %H:%M") if f["start_at"] else "?"
        lines.append(f"  - {f['contact_name'] or '?'} <{f['contact_email'] or '?'}>: "
                     f"{outcome_label(f['outcome'])}, {when}"
                     + (", booked again" if f["has_rebooked"] else ""))
    if data.followups_total > len(named):
        lines.append(f"  … and {data.followups_total - len(named):,} more on the page.")
    lines += [f"Needs your answer: {plural(review, 'meeting')}."]
    if reading:
        lines += ["", f"Reminders: {reading}"]
    if link:
        lines += ["", f"The full report: {link}"]
    text = "\n".join(lines) + "\n"

    # ---- HTML (tables, inline styles) with the chart by cid
    cid = make_msgid(domain="booking-report.local")
    html = _templates().get_template("digest_email.html").render(
        subject=subject, title=title, scope=scope, trusted=trusted, status_line=status_line,
        answer=answer, weeks_shown=len(data.trend),
        cards=cards, leads_line=leads_line, meetings_line=meetings, recovered=recovered,
        cid=cid[1:-1], follow_phrase=follow_phrase, named=named,
        more=data.followups_total - len(named), review_phrase=plural(review, "meeting"),
        reading=reading, link=link, outcome_label=outcome_label)

    # ---- Slack (Block Kit; names only with slack_names)
    fields = []
    for c in cards:
        value = "needs manual confirm" if c["hidden"] else (
            f"*{c['value']}* ({c['basis']}{', small sample' if c['small'] else ''})\n"
            f"last week {c['prior']} · {c['change']}"
            + (f" ({c['change_note']})" if c["change_note"] else "")
            + "".join(f"\n_{n}_" for n in c["notes"]))
        fields.append({"type": "mrkdwn", "text": f"*{c['label']}*\n{value}"})
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": answer}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{scope} · {status_line}"}]},
        {"type": "section", "fields": fields[:4]},
        {"type": "section", "fields": fields[4:]},
        {"type": "section", "text": {"type": "mrkdwn", "text": meetings
                                     + (f"\n{recovered}" if recovered else "")}},
    ]
    follow_text = (f"*Follow up:* {follow_phrase} · *needs your answer:* "
                   f"{plural(review, 'meeting')}")
    if slack_names and named:
        follow_text += "\n" + "\n".join(
            f"• {f['contact_name'] or '?'}: {outcome_label(f['outcome'])}" for f in named)
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": follow_text}})
    if link:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": "Open the full report"},
            "url": link}]})
    slack = {"text": f"{title} · {scope}", "blocks": blocks}

    return Digest(subject, text, html, trend_png(data), slack, trusted, cid)


def _templates():
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("report", "templates"),
                       autoescape=select_autoescape(["html"]))


def email_message(digest: Digest, *, sender: str, recipients: list[str]) -> EmailMessage:
    """multipart/alternative: the plain text first, then the HTML with the chart as a
    related inline image (cid)."""
    message = EmailMessage()
    message["Subject"] = digest.subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Message-ID"] = make_msgid(domain="booking-report.local")
    message.set_content(digest.text)
    message.add_alternative(digest.html, subtype="html")
    message.get_payload()[1].add_related(digest.png, "image", "png", cid=digest.cid,
                                         filename="trend.png", disposition="inline")
    return message


# ------------------------------------------------------------------ sending


@dataclass
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None
    mode: str  # "plain", "starttls" or "ssl"
    timeout: float = 20.0

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def smtp_settings(url: str) -> SmtpSettings:
    """``smtp://user:pass@host:587?starttls=1`` or ``smtps://user:pass@host:465``."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise DigestError(f"BOOKING_REPORT_SMTP_URL must look like "
                          f"smtp://user:password@host:587?starttls=1 (got scheme "
                          f"{parts.scheme or 'none'!r})")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if parts.scheme == "smtps":
        mode, default_port = "ssl", 465
    elif query.get("starttls", "0").lower() in ("1", "true", "yes"):
        mode, default_port = "starttls", 587
    else:
        mode, default_port = "plain", 25
    return SmtpSettings(parts.hostname, parts.port or default_port,
                        unquote(parts.username) if parts.username else None,
                        unquote(parts.password) if parts.password else None, mode)


def send_email(message: EmailMessage, settings: SmtpSettings) -> None:
    where = settings.where
    try:
        if settings.mode == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port,
                                                    timeout=settings.timeout,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with client:
            if settings.mode == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.user:
                client.login(settings.user, settings.password or "")
            refused = client.send_message(message)
            if refused:
                raise DigestError(f"the SMTP server {where} refused some recipients: "
                                  f"{', '.join(refused)}")
    except smtplib.SMTPAuthenticationError as exc:
        raise DigestError(f"the SMTP server {where} refused the login ({exc.smtp_code} "
                          f"{_text(exc.smtp_error)}); check the user and password in "
                          "BOOKING_REPORT_SMTP_URL") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise DigestError(f"TLS with the SMTP server {where} failed: it does not offer "
                          f"STARTTLS ({exc}); drop ?starttls=1 only on a trusted network, "
                          "or use smtps://") from None
    except ssl.SSLError as exc:
        raise DigestError(f"TLS with the SMTP server {where} failed ({exc.reason or exc})"
                          ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise DigestError(f"the SMTP server {where} refused every recipient "
                          f"({', '.join(exc.recipients)})") from None
    except smtplib.SMTPResponseException as exc:
        raise DigestError(f"the SMTP server {where} answered {exc.smtp_code} "
                          f"{_text(exc.smtp_error)}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DigestError(f"cannot send through the SMTP server {where} "
                          f"({exc.strerror if isinstance(exc, OSError) and exc.strerror else exc})"
                          ) from None


def send_slack(payload: dict[str, Any], webhook_url: str, timeout: float = 20.0) -> None:
    host = urlsplit(webhook_url).netloc or webhook_url
    request = urllib.request.Request(webhook_url, data=json.dumps(payload).encode(),
                                     method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            resp.read()
    except urllib.error.HTTPError as err:
        body = err.read().decode("utf-8", "replace")[:200]
        raise DigestError(f"Slack ({host}) answered {err.code}: {body or err.reason}") from None
    except OSError as exc:
        raise DigestError(f"cannot reach Slack ({host}): {getattr(exc, 'reason', exc)}") from None


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
