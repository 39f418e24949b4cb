"""Label print counts (reprints) and blank pre-printed tags issued to donors."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, utcnow
from ..organisations.models import Organisation


class LabelPrint(Base):
    """How many times a tag's label was printed; a count above one makes the next print a reprint.

    The custody log holds each print job (who, when, which tags, template, format); this table
    only answers "was this tag printed before?" in one indexed look-up per job.
    """

    __tablename__ = "label_prints"

    tag: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_printed_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    last_printed_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class BlankTagIssue(Base):
    """A range of blank pre-printed tags sent to a donor organisation that has no label printer."""

    __tablename__ = "blank_tag_issues"
    __table_args__ = (Index("ix_blank_tag_issues_donor_issued", "donor_organisation_id", "issued_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    donor_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    count: Mapped[int] = mapped_column(Integer)
    first_tag: Mapped[str] = mapped_column(String(32))
    last_tag: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    issued_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, index=True)
    issued_by_user_id: Mapped[int | None] = mapped_column(Integer)
    issued_by_name: Mapped[str] = mapped_column(String(254))

    donor: Mapped[Organisation] = relationship(lazy="joined")


class BlankTag(Base):
    """One blank tag of an issue; ``bound_at`` is set when a device is registered under it."""

    __tablename__ = "blank_tags"
    __table_args__ = (Index("ix_blank_tags_issue_bound", "issue_id", "bound_at"),)

    tag: Mapped[str] = mapped_column(String(32), primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("blank_tag_issues.id"))
    donor_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    bound_at: Mapped[object | None] = mapped_column(UTCDateTime)
