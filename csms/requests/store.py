"""Database work of driver requests: synchronous ORM code run in one transaction each
(``Database.transaction``). Tokens are looked up by their sha256 only."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from csms.db.models import DriverRequest, DriverSession, MeterValue, Transaction
from csms.normalise import ENERGY_REGISTER


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Found:
    session: DriverSession
    transaction: Transaction | None
    latest: DriverRequest | None  # the revision in force (may be a withdrawal)


def create_session(
    s: Session, *, station_id: str, tx_key: str, connector_id: int, digest: str, now: datetime
) -> bool:
    """Store the link of a transaction; False when it has one already (a resent start)."""
    existing = s.execute(
        select(DriverSession.id).where(
            DriverSession.station_id == station_id, DriverSession.tx_key == tx_key
        )
    ).scalar_one_or_none()
    if existing is not None:
        return False
    s.add(
        DriverSession(
            token_sha256=digest,
            station_id=station_id,
            tx_key=tx_key,
            connector_id=connector_id,
            created_at=now,
            notify_status="pending",
        )
    )
    return True


def set_notify_status(s: Session, digest: str, status: str, error: str | None) -> None:
    row = s.execute(
        select(DriverSession).where(DriverSession.token_sha256 == digest)
    ).scalar_one_or_none()
    if row is not None:
        row.notify_status = status
        row.notify_error = None if error is None else error[:255]


def latest_request(s: Session, session_id: int) -> DriverRequest | None:
    return s.execute(
        select(DriverRequest)
        .where(DriverRequest.session_id == session_id)
        .order_by(DriverRequest.revision.desc())
        .limit(1)
    ).scalar_one_or_none()


def _transaction(s: Session, station_id: str, tx_key: str) -> Transaction | None:
    return s.execute(
        select(Transaction).where(
            Transaction.station_id == station_id, Transaction.tx_key == tx_key
        )
    ).scalar_one_or_none()


def find(s: Session, digest: str) -> Found | None:
    row = s.execute(
        select(DriverSession).where(DriverSession.token_sha256 == digest)
    ).scalar_one_or_none()
    if row is None:
        return None
    return Found(row, _transaction(s, row.station_id, row.tx_key), latest_request(s, row.id))


def find_by_transaction(s: Session, station_id: str, tx_key: str) -> Found | None:
    row = s.execute(
        select(DriverSession).where(
            DriverSession.station_id == station_id, DriverSession.tx_key == tx_key
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    return Found(row, _transaction(s, station_id, tx_key), latest_request(s, row.id))


def add_revision(s: Session, session_id: int, fields: dict[str, Any]) -> DriverRequest:
    """Append the next revision (the unique (session, revision) guards concurrent writers)."""
    current = s.execute(
        select(func.max(DriverRequest.revision)).where(DriverRequest.session_id == session_id)
    ).scalar_one()
    row = DriverRequest(session_id=session_id, revision=int(current or 0) + 1, **fields)
    s.add(row)
    s.flush()
    return row


def revisions(s: Session, session_id: int) -> list[DriverRequest]:
    return list(
        s.execute(
            select(DriverRequest)
            .where(DriverRequest.session_id == session_id)
            .order_by(DriverRequest.revision)
        ).scalars()
    )


def energy_so_far_kwh(s: Session, tx: Transaction) -> float | None:
    """Energy delivered in the transaction: stop - start, else the latest register - start."""
    start_wh = tx.meter_start_wh
    if tx.meter_stop_wh is not None and start_wh is not None:
        return max(0.0, (tx.meter_stop_wh - start_wh) / 1e3)
    base = select(MeterValue.value_si).where(
        MeterValue.station_id == tx.station_id,
        MeterValue.tx_key == tx.tx_key,
        MeterValue.measurand == ENERGY_REGISTER,
        MeterValue.phase.is_(None),
        MeterValue.value_si.is_not(None),
    )
    last = s.execute(base.order_by(MeterValue.id.desc()).limit(1)).scalar_one_or_none()
    if last is None:
        return 0.0 if start_wh is not None else None
    if start_wh is None:
        start_wh = s.execute(base.order_by(MeterValue.id).limit(1)).scalar_one()
    return max(0.0, (float(last) - float(start_wh or 0.0)) / 1e3)


def open_requests(s: Session) -> list[tuple[DriverSession, DriverRequest]]:
    """Sessions of transactions not ended that have a request revision (for re-publishing)."""
    rows = s.execute(
        select(DriverSession)
        .join(
            Transaction,
            (Transaction.station_id == DriverSession.station_id)
            & (Transaction.tx_key == DriverSession.tx_key),
        )
        .where(Transaction.ended_at.is_(None))
    ).scalars()
    out = []
    for row in rows:
        latest = latest_request(s, row.id)
        if latest is not None:
            out.append((row, latest))
    return out


def audit(s: Session, station_id: str | None = None) -> list[tuple[DriverSession, DriverRequest]]:
    """Every revision of every request (oldest first), optionally of one station."""
    q = select(DriverSession, DriverRequest).join(
        DriverRequest, DriverRequest.session_id == DriverSession.id
    )
    if station_id is not None:
        q = q.where(DriverSession.station_id == station_id)
    rows = s.execute(q.order_by(DriverSession.id, DriverRequest.revision)).tuples()
    return [(a, b) for a, b in rows]
