"""Reminder e-mails: built from templates in the recipient organisation's language, sent over SMTP."""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import current_app, render_template
from flask_babel import force_locale, gettext, ngettext
from sqlalchemy import func, select

from .. import lifecycle
from ..distribution.models import Accessory, AccessoryStatus
from ..extensions import db
from .rules import rule_by_id


@dataclass(frozen=True)
class MailSettings:
    """What reminder mails need from the configuration, read once by the caller (``MailSettings.of(app.config)``)."""
    base_url: str  # BASE_URL: the links in the mail
    digest_max_lines: int  # REMINDERS_DIGEST_MAX_LINES
    languages: tuple[str, ...]  # LANGUAGES, else BABEL_DEFAULT_LOCALE
    default_locale: str
    timezone: str  # BABEL_DEFAULT_TIMEZONE: the day a digest belongs to
    max_attempts: int  # REMINDERS_MAIL_MAX_ATTEMPTS
    sender: str  # MAIL_DEFAULT_SENDER, then the SMTP server (MAIL_*); no server: the mail goes to the log
    server: str | None
    port: int
    timeout: float
    use_tls: bool
    use_ssl: bool
    username: str | None
    password: str | None

    @classmethod
    def of(cls, config) -> MailSettings:
        return cls(base_url=config["BASE_URL"], digest_max_lines=config["REMINDERS_DIGEST_MAX_LINES"],
                   languages=tuple(config["LANGUAGES"]), default_locale=config["BABEL_DEFAULT_LOCALE"],
                   timezone=config.get("BABEL_DEFAULT_TIMEZONE") or "UTC",
                   max_attempts=config["REMINDERS_MAIL_MAX_ATTEMPTS"], sender=config["MAIL_DEFAULT_SENDER"],
                   server=config["MAIL_SERVER"], port=config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"],
                   use_tls=config["MAIL_USE_TLS"], use_ssl=config["MAIL_USE_SSL"],
                   username=config["MAIL_USERNAME"], password=config["MAIL_PASSWORD"])


def build(*, kind: str, organisation, reminders, locale: str, now, recipients: list[str], mail_id: int, day,
          settings: MailSettings):
    """A multipart (text + HTML) message listing each device with its tag, state, days overdue and link."""
    base = settings.base_url.rstrip("/")
    limit = settings.digest_max_lines
    locale = locale if locale in settings.languages else settings.default_locale
    plan_ends = _plan_ends(
        [r.device.id for r in reminders[:limit] if getattr(rule_by_id(r.rule_id), "plan_end", False)]
    )
    with force_locale(locale):
        lines = []
        for r in reminders[:limit]:
            rule = rule_by_id(r.rule_id)
            device = r.device
            lines.append({
                "tag": device.tag,
                "state": lifecycle.label(r.state, locale),
                "rule": gettext(rule.label) if rule else r.rule_id,
                "days": rule.days_overdue(now, r.stay_started_at, device.expected_return_on) if rule else None,
                "model": " ".join(x for x in (device.brand, device.model) if x),
                "link": f"{base}/devices/{device.tag}",
                "note": r.acknowledgement_note,
                "plan_ends_on": plan_ends.get(device.id) if rule and rule.plan_end else None,
            })
        count = len(reminders)
        if kind == "digest":
            subject = ngettext("[Reboot Tracker] %(num)s overdue device — %(organisation)s",
                               "[Reboot Tracker] %(num)s overdue devices — %(organisation)s",
                               count, organisation=organisation.name)
        else:
            subject = ngettext("[Reboot Tracker] Escalation: %(num)s device overdue for too long",
                               "[Reboot Tracker] Escalation: %(num)s devices overdue for too long", count)
        context = {"kind": kind, "organisation": organisation, "lines": lines, "count": count,
                   "more": max(count - limit, 0), "overdue_url": f"{base}/reminders", "day": day}
        text = render_template("reminders/mail.txt", **context)
        html = render_template("reminders/mail.html", **context)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(now)
    # Stable per mail row: a receiving server can drop a duplicate if a retry ever overlapped.
    message["Message-ID"] = make_msgid(idstring=f"reminder-{kind}-{mail_id}", domain=_domain(settings.sender))
    message["Content-Language"] = locale
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _plan_ends(device_ids: list[int]) -> dict:
    """The earliest data-plan end of the keys handed over with each device (one query for the whole mail)."""
    if not device_ids:
        return {}
    return dict(db.session.execute(
        select(Accessory.device_id, func.min(Accessory.plan_ends_on))
        .where(Accessory.device_id.in_(device_ids), Accessory.status == AccessoryStatus.WITH_BENEFICIARY)
        .group_by(Accessory.device_id)).all())


def _domain(sender: str) -> str:
    return sender.rsplit("@", 1)[-1].strip(" >") if "@" in sender else "localhost"


def send(message: EmailMessage, *, settings: MailSettings) -> None:
    """Deliver through the SMTP server of ``settings`` (MAIL_*)."""
    if not settings.server:
        # Development without a mail server: the mail goes to the log instead (see config/development.py).
        current_app.logger.info("mail not sent (MAIL_SERVER is empty) to %s: %s\n%s", message["To"],
                                message["Subject"], message.get_body(("plain",)).get_content())
        return
    factory = smtplib.SMTP_SSL if settings.use_ssl else smtplib.SMTP
    with factory(settings.server, settings.port, timeout=settings.timeout) as smtp:
        if settings.use_tls and not settings.use_ssl:
            smtp.starttls(context=ssl.create_default_context())
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(message)
