"""Tables of the CSMS core: stations, connectors/EVSEs, transactions, meter values,
id tags, EV charging needs and the raw record of station events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column

from csms.db.base import Base

# SQLite autoincrements only INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out (SQLite stores naive text, PostgreSQL timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Station(Base):
    __tablename__ = "stations"

    station_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Registry state answered to BootNotification: Accepted, Pending or Rejected; None for a
    # station that is not in the registry but connected under allow_unknown_stations.
    registry_status: Mapped[str | None] = mapped_column(String(16))
    ocpp_version: Mapped[str | None] = mapped_column(String(8))
    vendor: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    serial_number: Mapped[str | None] = mapped_column(String(64))
    firmware_version: Mapped[str | None] = mapped_column(String(64))
    boot_status: Mapped[str | None] = mapped_column(String(16))
    firmware_status: Mapped[str | None] = mapped_column(String(64))
    diagnostics_status: Mapped[str | None] = mapped_column(String(64))
    last_boot_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Connector(Base):
    """A 1.6 connector or a 2.0.1 EVSE (evse_id) / connector pair; connector 0 = station."""

    __tablename__ = "connectors"

    station_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("stations.station_id", ondelete="CASCADE"), primary_key=True
    )
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evse_connector_id: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(64))
    info: Mapped[str | None] = mapped_column(String(255))
    station_time: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (UniqueConstraint("station_id", "tx_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    # 2.0.1 transactionId (string); 1.6 str(id) -- one key for both versions
    tx_key: Mapped[str] = mapped_column(String(64))
    connector_id: Mapped[int | None] = mapped_column(Integer)
    id_tag: Mapped[str | None] = mapped_column(String(64))
    reservation_id: Mapped[int | None] = mapped_column(Integer)
    meter_start_wh: Mapped[float | None] = mapped_column(Float)
    meter_stop_wh: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    stop_reason: Mapped[str | None] = mapped_column(String(64))
    charging_state: Mapped[str | None] = mapped_column(String(32))
    last_seq_no: Mapped[int | None] = mapped_column(Integer)
    # 2.0.1 seqNo values already stored, so a resent TransactionEvent is stored once
    seen_seq_nos: Mapped[Any | None] = mapped_column(JSON)
    # the station's own start timestamp as sent: duplicate 1.6 StartTransactions match on it
    start_ts_raw: Mapped[str | None] = mapped_column(String(40))
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    # a Stop/Ended arrived for a transaction this CSMS never saw start
    unknown_start: Mapped[bool] = mapped_column(Boolean, default=False)
    stop_data: Mapped[Any | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class MeterValue(Base):
    """One sampled value, as reported, plus its value normalised to W / Wh / A / V / %."""

    __tablename__ = "meter_values"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    connector_id: Mapped[int] = mapped_column(Integer)
    tx_key: Mapped[str | None] = mapped_column(String(64), index=True)
    sampled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    measurand: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str | None] = mapped_column(String(8))
    unit: Mapped[str | None] = mapped_column(String(20))
    context: Mapped[str | None] = mapped_column(String(32))
    location: Mapped[str | None] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64))
    value_si: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(24))  # MeterValues, StopTransaction, ...
    # sent for a transaction the station had already stopped (1.6): kept, but flagged
    after_stop: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class IdTag(Base):
    __tablename__ = "id_tags"

    id_tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="Accepted")
    expiry: Mapped[datetime | None] = mapped_column(UtcDateTime())
    parent_id_tag: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class EvChargingNeeds(Base):
    __tablename__ = "ev_charging_needs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    evse_id: Mapped[int] = mapped_column(Integer)
    departure_time: Mapped[datetime | None] = mapped_column(UtcDateTime())
    energy_amount_wh: Mapped[float | None] = mapped_column(Float)
    ev_max_power_w: Mapped[float | None] = mapped_column(Float)
    ev_min_power_w: Mapped[float | None] = mapped_column(Float)
    ev_max_current_a: Mapped[float | None] = mapped_column(Float)
    ev_min_current_a: Mapped[float | None] = mapped_column(Float)
    energy_transfer_mode: Mapped[str | None] = mapped_column(String(32))
    max_schedule_tuples: Mapped[int | None] = mapped_column(Integer)
    raw: Mapped[Any] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class StationEvent(Base):
    """Messages kept as received: NotifyEvent, SecurityEventNotification, NotifyReport,
    DataTransfer, status notifications of firmware/logs/diagnostics."""

    __tablename__ = "station_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(48))
    station_time: Mapped[datetime | None] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    payload: Mapped[Any] = mapped_column(JSON)


class DeviceVariable(Base):
    """2.0.1 device model as last reported by NotifyReport (component/variable/attribute)."""

    __tablename__ = "device_variables"

    station_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    component: Mapped[str] = mapped_column(String(128), primary_key=True)
    variable: Mapped[str] = mapped_column(String(128), primary_key=True)
    attribute_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditRecord(Base):
    """One command or operator action: who (as the request named them), what, the result."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(48))
    result: Mapped[str] = mapped_column(String(32))
    station_id: Mapped[str | None] = mapped_column(String(64), index=True)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[Any] = mapped_column(JSON)


class DriverSession(Base):
    """The driver link of one transaction: only the sha256 of its token is stored."""

    __tablename__ = "driver_sessions"
    __table_args__ = (UniqueConstraint("station_id", "tx_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    station_id: Mapped[str] = mapped_column(String(64))
    tx_key: Mapped[str] = mapped_column(String(64))
    connector_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # notifier outcome: pending / sent / failed (failures are logged and counted too)
    notify_status: Mapped[str] = mapped_column(String(16), default="pending")
    notify_error: Mapped[str | None] = mapped_column(String(255))


class DriverRequest(Base):
    """Every revision of a session's driver request (the latest one is in force).

    A withdrawal is a revision too (``withdrawn``); nothing is ever updated in place."""

    __tablename__ = "driver_requests"
    __table_args__ = (UniqueConstraint("session_id", "revision"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("driver_sessions.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    departure_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # kWh as the driver asked (miles converted), before the edge's safety factor
    energy_kwh: Mapped[float | None] = mapped_column(Float)
    distance_miles: Mapped[float | None] = mapped_column(Float)
    kwh_per_mile: Mapped[float | None] = mapped_column(Float)
    opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
