"""Units of database work of the handlers: synchronous ORM code, run in a CommitQueue batch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from csms.db.models import Connector, IdTag, MeterValue, Station, StationEvent, Transaction
from csms.db.writer import DEFERRED, defer_insert
from csms.normalise import Sample


def station_row(s: Session, station_id: str, now: datetime) -> Station:
    row = s.get(Station, station_id)
    if row is None:
        row = Station(station_id=station_id, registry_status=None, created_at=now)
        s.add(row)
    return row


def record_boot(
    s: Session,
    station_id: str,
    now: datetime,
    *,
    version: str,
    info: dict[str, str | None],
    default_status: str,
) -> str:
    """Update the station's identity from a BootNotification; return the boot status."""
    row = station_row(s, station_id, now)
    status = row.registry_status or default_status
    row.ocpp_version = version
    row.vendor = info.get("vendor")
    row.model = info.get("model")
    row.serial_number = info.get("serial_number")
    row.firmware_version = info.get("firmware_version")
    row.boot_status = status
    row.last_boot_at = now
    row.last_seen_at = now
    return status


def touch_station(s: Session, station_id: str, now: datetime) -> None:
    """Record traffic from the station (batched by the caller, see SEEN_INTERVAL_S)."""
    row = s.get(Station, station_id)
    if row is not None and (row.last_seen_at is None or row.last_seen_at < now):
        row.last_seen_at = now


def set_connector_status(
    s: Session,
    station_id: str,
    connector_id: int,
    evse_connector_id: int,
    *,
    status: str,
    error_code: str | None,
    info: str | None,
    station_time: datetime | None,
    now: datetime,
) -> None:
    station_row(s, station_id, now)
    row = s.get(Connector, (station_id, connector_id, evse_connector_id))
    if row is None:
        row = Connector(
            station_id=station_id, connector_id=connector_id, evse_connector_id=evse_connector_id
        )
        s.add(row)
    row.status, row.error_code, row.info = status, error_code, info
    row.station_time, row.updated_at = station_time, now


def id_tag_status(
    s: Session, id_tag: str, now: datetime, *, accept_all: bool
) -> tuple[str, IdTag | None]:
    """'Accepted', 'Blocked', 'Expired' or 'Invalid' (1.6 names) for ``id_tag``."""
    tag = s.get(IdTag, id_tag)
    if tag is None:
        return ("Accepted" if accept_all else "Invalid"), None
    if tag.expiry is not None and tag.expiry <= now:
        return "Expired", tag
    return tag.status, tag


def find_transaction(s: Session, station_id: str, *keys: str) -> Transaction | None:
    for key in keys:
        row = (
            s.execute(
                select(Transaction).where(
                    Transaction.station_id == station_id, Transaction.tx_key == key
                )
            )
        ).scalar_one_or_none()
        if row is not None:
            return row
    return None


def store_samples(
    s: Session,
    station_id: str,
    connector_id: int,
    tx_key: str | None,
    groups: list[tuple[datetime | None, list[Sample]]],
    *,
    source: str,
    now: datetime,
    after_stop: bool = False,
) -> int:
    rows: list[dict[str, Any]] = [
        {
            "station_id": station_id,
            "connector_id": connector_id,
            "tx_key": tx_key,
            "sampled_at": sampled_at,
            "received_at": now,
            "measurand": x.measurand,
            "phase": x.phase,
            "unit": x.unit,
            "context": x.context,
            "location": x.location,
            "value": x.value[:64],
            "value_si": x.value_si,
            "source": source,
            "after_stop": after_stop,
        }
        for sampled_at, items in groups
        for x in items
    ]
    if rows:
        defer_insert(s, MeterValue, rows)
    return len(rows)


def _content(connector_id: int, sampled_at: datetime | None, x: Any) -> tuple[Any, ...]:
    at = sampled_at.astimezone(UTC).replace(tzinfo=None) if sampled_at is not None else None
    return (connector_id, at, x.measurand, x.phase, x.context, x.value[:64])


def unseen_samples(
    s: Session,
    station_id: str,
    connector_id: int,
    tx_key: str,
    groups: list[tuple[datetime | None, list[Sample]]],
) -> list[tuple[datetime | None, list[Sample]]]:
    """``groups`` without the samples already stored for this transaction, compared by
    content (EVSE, sampled_at, measurand, phase, context, value). 2.0.1 stations repeat
    the Transaction.Begin sample in the Ended event; storing it twice would count twice."""
    times = [at for at, _ in groups if at is not None]
    if not times:
        return groups
    rows = s.execute(
        select(
            MeterValue.connector_id,
            MeterValue.sampled_at,
            MeterValue.measurand,
            MeterValue.phase,
            MeterValue.context,
            MeterValue.value,
        ).where(
            MeterValue.station_id == station_id,
            MeterValue.tx_key == tx_key,
            MeterValue.sampled_at.in_(times),
        )
    ).all()
    seen = {
        (r[0], r[1].astimezone(UTC).replace(tzinfo=None) if r[1] else None, *r[2:]) for r in rows
    }
    # rows of this batch not inserted yet (e.g. Started and Ended committed together)
    for row in s.info.get(DEFERRED, {}).get(MeterValue, []):
        if row["station_id"] == station_id and row["tx_key"] == tx_key:
            at = row["sampled_at"]
            seen.add(
                (
                    row["connector_id"],
                    at.astimezone(UTC).replace(tzinfo=None) if at is not None else None,
                    row["measurand"],
                    row["phase"],
                    row["context"],
                    row["value"],
                )
            )
    out: list[tuple[datetime | None, list[Sample]]] = []
    for at, items in groups:
        fresh = [x for x in items if _content(connector_id, at, x) not in seen]
        if fresh:
            out.append((at, fresh))
    return out


def transaction_stopped(s: Session, station_id: str, tx_key: str | None) -> bool:
    """True if the station already ended this transaction (its StopTransaction is stored)."""
    if tx_key is None:
        return False
    ended = s.execute(
        select(Transaction.ended_at).where(
            Transaction.station_id == station_id, Transaction.tx_key == tx_key
        )
    ).scalar_one_or_none()
    return ended is not None


def store_event(
    s: Session,
    station_id: str,
    action: str,
    payload: dict[str, Any],
    *,
    station_time: datetime | None,
    now: datetime,
) -> None:
    s.add(
        StationEvent(
            station_id=station_id,
            action=action,
            station_time=station_time,
            received_at=now,
            payload=payload,
        )
    )
