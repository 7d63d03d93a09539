"""The audit log: who asked the CSMS to do what to which station, and what came of it.

Every command from the MQTT contract is recorded (with the ``issued_by`` it carries);
operator actions over HTTP use the same table. Records are written through the commit
queue without holding up the command: bookkeeping, batched with the station traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from csms.db.models import AuditRecord


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str  # "(unknown)" when the command named nobody
    via: str  # mqtt / http / cli
    action: str  # e.g. set_limit
    result: str  # ok / an error code
    station_id: str | None = None
    correlation_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class AuditLog(Protocol):
    def record(self, entry: AuditEntry) -> None: ...


class Poster(Protocol):
    def post(self, work: Any) -> None: ...


class DbAuditLog:
    """Audit entries into ``audit_log`` via the CSMS's commit queue."""

    def __init__(self, commits: Poster):
        self._commits = commits

    def record(self, entry: AuditEntry) -> None:
        row = AuditRecord(
            at=entry.at,
            actor=entry.actor[:64],
            via=entry.via[:16],
            action=entry.action[:48],
            result=entry.result[:32],
            station_id=entry.station_id[:64] if entry.station_id else None,
            correlation_id=entry.correlation_id[:64] if entry.correlation_id else None,
            detail=entry.detail,
        )

        def work(s: Session) -> None:
            s.add(row)

        self._commits.post(work)
