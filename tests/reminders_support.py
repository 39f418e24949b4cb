"""Helpers for reminder tests: a real local SMTP server (aiosmtpd) and walking a device through steps."""
from __future__ import annotations

import datetime as dt
import email
import socket
from email import policy

import pytest

from asset_tracker.core import Actor
from asset_tracker.devices import services as devices
from asset_tracker.lifecycle import State

from . import factories

UTC = dt.UTC
# A fixed point in the future: wipe evidence made "now" by the factories is then never in the future.
T0 = dt.datetime(2031, 3, 3, 8, 0, tzinfo=UTC)


class Inbox:
    """Messages received by the local SMTP server; `refuse` makes the next N deliveries fail (451)."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        msg.envelope_to = list(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 OK"

    def clear(self):
        self.messages.clear()

    def by_subject(self, word: str):
        return [m for m in self.messages if word in m["Subject"]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(app):
    """A local SMTP server the app sends to; yields its Inbox."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    saved = {k: app.config[k] for k in ("MAIL_SERVER", "MAIL_PORT", "MAIL_TIMEOUT")}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=5)
    inbox.port = port
    try:
        yield inbox
    finally:
        controller.stop()
        app.config.update(saved)


def text_of(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def html_of(msg) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()


def wipe_all(device, tech: Actor) -> None:
    """Passing wipe records for every medium, timed by the service clock (which tests move)."""
    from asset_tracker.db import utcnow
    from asset_tracker.devices.models import StorageMedium
    from asset_tracker.extensions import db
    from asset_tracker.wiping import services as wiping

    now = utcnow()
    for medium in db.session.query(StorageMedium).filter_by(device_id=device.id).all():
        wiping.record_wipe(device, medium.id, actor=tech, result="passed", method="Fill With Zeros",
                           nist_category="clear", tool="nwipe", tool_version="0.35", passes=1,
                           verification="last pass", started_at=now - dt.timedelta(minutes=30), ended_at=now)


FORWARD = [State.COLLECTED, State.RECEIVED, State.DIAGNOSED, State.WIPED, State.REFURBISHED, State.READY,
           State.RESERVED, State.HANDED_OVER, State.RETURNED]


def make(orgs, users, state, **kw):
    """factories.make_device, but wiped with evidence timed by the service clock."""
    state = State(state)
    if state in (State.REGISTERED, State.COLLECTED, State.RECEIVED) or state not in FORWARD:
        return factories.make_device(orgs, users, state, **kw)
    device = factories.make_device(orgs, users, State.RECEIVED, **kw)
    path = FORWARD[FORWARD.index(State.RECEIVED) + 1: FORWARD.index(state) + 1]
    return walk(device, orgs, users, path, partner=kw.get("partner", "partner"))


def walk(device, orgs, users, path, partner="partner", **handover):
    """Move ``device`` through ``path`` with what each step needs (wipe records timed by the service clock)."""
    tech = Actor.of(users["technician"])
    for target in path:
        target = State(target)
        if target == State.WIPED:
            wipe_all(device, tech)
            device = devices.transition(device, target, actor=tech)
        else:
            device = factories.step(device, target, orgs, users, partner=partner, **handover)
    return device
