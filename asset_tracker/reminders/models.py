"""Reminders (one per device, rule and stay in a state) and the mails that announce them."""
from __future__ import annotations

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, utcnow
from ..devices.models import Device
from ..lifecycle import State
from ..organisations.models import Organisation, enum_column


class Reminder(Base):
    """A device overdue under one rule during one stay (a stay starts at `Device.state_since`)."""

    __tablename__ = "reminders"
    __table_args__ = (
        # Never twice for the same stay, even with two sweeps at once.
        UniqueConstraint("device_id", "rule_id", "stay_started_at", name="uq_reminders_device_rule_stay"),
        # The sweep and the pages read open reminders by rule and age of the stay.
        Index("ix_reminders_open_rule", "closed_at", "rule_id", "stay_started_at"),
        Index("ix_reminders_responsible_open", "responsible_organisation_id", "closed_at"),
        Index("ix_reminders_escalation_open", "escalation_organisation_id", "closed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    rule_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[State] = mapped_column(enum_column(State, "device_state"))
    stay_started_at: Mapped[object] = mapped_column(UTCDateTime)
    responsible_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    escalation_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    # Set by the sweep when the device has left the state of this stay.
    closed_at: Mapped[object | None] = mapped_column(UTCDateTime)
    # The digest that told the responsible organisation, and the escalation mail that told the owner.
    notified_mail_id: Mapped[int | None] = mapped_column(ForeignKey("reminder_mails.id"), index=True)
    escalation_due_at: Mapped[object | None] = mapped_column(UTCDateTime)
    escalated_mail_id: Mapped[int | None] = mapped_column(ForeignKey("reminder_mails.id"), index=True)
    acknowledged_at: Mapped[object | None] = mapped_column(UTCDateTime)
    acknowledged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledgement_note: Mapped[str | None] = mapped_column(Text)

    device: Mapped[Device] = relationship(lazy="joined")
    responsible: Mapped[Organisation | None] = relationship(foreign_keys=[responsible_organisation_id])
    escalation_organisation: Mapped[Organisation | None] = relationship(foreign_keys=[escalation_organisation_id])


class ReminderMail(Base):
    """One mail per organisation, day and kind; the row is claimed before sending, so nothing goes twice.

    status: `sending` (claimed; a crash leaves it here and it is never sent again), `sent`, `failed`
    (retried by a later sweep), `no_recipient` (the organisation has no address).
    """

    __tablename__ = "reminder_mails"
    __table_args__ = (
        UniqueConstraint("organisation_id", "day", "kind", name="uq_reminder_mails_organisation_day_kind"),
        Index("ix_reminder_mails_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    day: Mapped[object] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # "digest" or "escalation"
    status: Mapped[str] = mapped_column(String(16), default="sending")
    locale: Mapped[str] = mapped_column(String(5), default="fr")
    recipients: Mapped[str | None] = mapped_column(Text)
    reminder_count: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[object | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship()


class ReminderSweep(Base):
    """One row: up to when overdue crossings have been handled, so a sweep only looks at what changed since.

    A full sweep (no row, the first sweep of a process, once a day, or a clock set back) looks at everything.
    """

    __tablename__ = "reminder_sweeps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_swept_at: Mapped[object] = mapped_column(UTCDateTime)
    last_full_at: Mapped[object] = mapped_column(UTCDateTime)
