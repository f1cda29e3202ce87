"""`booking-report digest`: last week's read by email and Slack, sent once per week,
source, channel and recipient (unless --force).

The report side builds the message (report/digest.py: read only); this is the run
around it: which recipients still need it, sending, and recording what was sent in
`raw.digest_deliveries`. Two runs at once (a cron job and a hand-started one) send it
once: the check, the sending and the record happen under a transaction-level lock for
the week and source, so the second run waits, then finds it sent.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from booking_report.database import data_dir, resolve
from ingest.db import connect

EXIT_FAILED = 1
# the first half of an advisory lock key (classid) for "a digest of this week and source"
DIGEST_LOCK_CLASS = 7_302_118


class DigestUsageError(ValueError):
    """Bad options or configuration (nothing sent)."""


@dataclass
class DigestRequest:
    recipients: list[str] = field(default_factory=list)
    slack: bool = False
    slack_names: bool = False
    week: str | None = None
    source: str | None = None
    dry_run: str | bool | None = None
    force: bool = False


def _lock_key(week, source: str) -> int:
    return int.from_bytes(hashlib.sha256(f"digest {week} {source}".encode()).digest()[:4],
                          "big", signed=True)


def run_digest(req: DigestRequest) -> int:
    from report.data import ReportError, load_report
    from report.digest import (
        DigestError,
        build,
        email_message,
        send_email,
        send_slack,
        smtp_settings,
    )

    slack_url = os.environ.get("BOOKING_REPORT_SLACK_WEBHOOK_URL", "").strip()
    if not (req.dry_run or req.recipients or req.slack):
        raise DigestUsageError("nothing to send: give --to a@example.com (or set "
                               "BOOKING_REPORT_DIGEST_TO), --slack, or --dry-run")
    if req.slack and not slack_url and not req.dry_run:
        raise DigestUsageError("--slack needs BOOKING_REPORT_SLACK_WEBHOOK_URL (a Slack "
                               "incoming webhook)")
    db = resolve(quiet=True)
    try:
        data = load_report(db.dsn, week=req.week, source=req.source)
        digest = build(data, public_url=os.environ.get("BOOKING_REPORT_PUBLIC_URL"),
                       slack_names=req.slack_names)
    except (ReportError, DigestError) as exc:
        raise DigestUsageError(str(exc)) from None
    if not digest.trusted:
        print(f"note: the Cal.com feed is {data.feed['status']}: completed and no-show numbers "
              "are left out of the digest", file=sys.stderr)
    sender = os.environ.get("BOOKING_REPORT_MAIL_FROM", "").strip()
    if req.dry_run:
        folder = Path(req.dry_run if req.dry_run is not True else data_dir() / "digest")
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"digest-{data.iso_week}-{data.source}"
        message = email_message(digest, sender=sender or "booking-report@localhost",
                                recipients=req.recipients or ["owner@localhost"])
        (folder / f"{stem}.eml").write_bytes(bytes(message))
        (folder / f"{stem}.html").write_text(digest.html.replace(
            f"cid:{digest.cid[1:-1]}", f"{stem}.png"), encoding="utf-8")
        (folder / f"{stem}.png").write_bytes(digest.png)
        (folder / f"{stem}.slack.json").write_text(json.dumps(digest.slack, indent=2),
                                                     encoding="utf-8")
        (folder / f"{stem}.txt").write_text(digest.text, encoding="utf-8")
        print(f"dry run: wrote {stem}.eml, .html, .png, .txt and .slack.json to {folder} "
              "(nothing sent, nothing recorded)")
        return 0
    channels: list[tuple[str, str]] = [("email", r) for r in req.recipients]
    if req.slack:
        channels.append(("slack", "slack:" + hashlib.sha256(slack_url.encode()).hexdigest()[:12]))
    emails_needed = any(c == "email" for c, _ in channels)
    url = os.environ.get("BOOKING_REPORT_SMTP_URL", "").strip()
    if emails_needed and (not url or not sender):
        raise DigestUsageError("email needs BOOKING_REPORT_SMTP_URL (e.g. "
                               "smtp://user:pass@smtp.example.com:587?starttls=1) and "
                               "BOOKING_REPORT_MAIL_FROM")
    sent: list[tuple[str, str, str | None]] = []
    with connect(db.dsn) as conn:
        # one run at a time per week and source, until what it sent is recorded
        conn.execute("select pg_advisory_xact_lock(%s, %s)",
                     (DIGEST_LOCK_CLASS, _lock_key(data.week, data.source)))
        already = {(c, r) for c, r in conn.execute(
            "select channel, recipient from raw.digest_deliveries where week_start = %s"
            " and lead_source = %s", (data.week, data.source)).fetchall()}
        todo = [(c, r) for c, r in channels if req.force or (c, r) not in already]
        for channel, recipient in channels:
            if (channel, recipient) not in todo:
                print(f"already sent for {data.iso_week} ({channel} to {recipient}); use "
                      "--force to send it again")
        emails = [r for c, r in todo if c == "email"]
        failed = None
        try:
            if emails:
                message = email_message(digest, sender=sender, recipients=emails)
                send_email(message, smtp_settings(url))
                sent += [("email", r, message["Message-ID"]) for r in emails]
                print(f"sent the {data.iso_week} digest to {', '.join(emails)}")
            if any(c == "slack" for c, _ in todo):
                send_slack(digest.slack, slack_url)
                sent += [(c, r, None) for c, r in todo if c == "slack"]
                print(f"posted the {data.iso_week} digest to Slack")
        except DigestError as exc:
            failed = exc
        for channel, recipient, message_id in sent:
            conn.execute("insert into raw.digest_deliveries (week_start, lead_source, channel,"
                         " recipient, message_id, forced) values (%s, %s, %s, %s, %s, %s)",
                         (data.week, data.source, channel, recipient, message_id, req.force))
    if failed is not None:
        print(f"error: {failed} (nothing recorded as sent)", file=sys.stderr)
        return EXIT_FAILED
    return 0
