"""Completed stays of devices in each state, derived from the custody events and kept up to date from a watermark."""
from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class Stay(Base):
    """One completed stay: a device entered ``state`` and left it ``seconds`` later, at custody event ``ended_seq``.

    Derived data (rebuilt from the custody log at will); the dashboard's percentiles read it by index.
    """

    __tablename__ = "report_stays"
    __table_args__ = (Index("ix_report_stays_state_seconds", "state", "seconds"),)

    ended_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    device_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32))
    seconds: Mapped[float] = mapped_column(Float)


class StayWatermark(Base):
    """One row: the last custody event folded into ``report_stays``."""

    __tablename__ = "report_stay_watermark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
