"""Tables of the smart-charging feature: the profiles installed on each station.

One row per (station, profile id) as last accepted by the station; the exact
SetChargingProfile request is kept so that it can be re-sent after a reboot.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from csms.db.base import Base
from csms.db.models import BigId, UtcDateTime


class InstalledProfile(Base):
    __tablename__ = "smart_installed_profiles"
    __table_args__ = (UniqueConstraint("station_id", "profile_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    profile_id: Mapped[int] = mapped_column(Integer)
    connector_id: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(16))  # station_max / tx_default / tx
    stack_level: Mapped[int] = mapped_column(Integer)
    rate_unit: Mapped[str] = mapped_column(String(1))
    ocpp_version: Mapped[str] = mapped_column(String(8))
    # [[start_s, kW], ...] as requested (the station got the converted limits)
    periods_kw: Mapped[Any] = mapped_column(JSON)
    schedule_start: Mapped[datetime | None] = mapped_column(UtcDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UtcDateTime())
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    request: Mapped[Any] = mapped_column(JSON)  # the SetChargingProfile payload sent
    installed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    verification: Mapped[str | None] = mapped_column(String(32))
    limit_kw: Mapped[float] = mapped_column(Float)  # first period, for quick looks


class OverLimitEpisode(Base):
    """A station drawing more than its installed limit, from the first reading over it to
    the first within it (``ended_at`` NULL while it lasts). Kept in the database so one
    episode raises one alarm however often the CSMS restarts meanwhile."""

    __tablename__ = "smart_over_limit_episodes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    connector_id: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    measured_kw: Mapped[float] = mapped_column(Float)
    limit_kw: Mapped[float] = mapped_column(Float)
    profile_id: Mapped[int | None] = mapped_column(Integer)
    end_reason: Mapped[str | None] = mapped_column(String(32))  # within_limit / reboot
