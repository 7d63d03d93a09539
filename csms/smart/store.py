"""The persistent record of profiles installed on each station (thin I/O over
:class:`csms.smart.models.InstalledProfile`), with an in-memory copy for the meter
check that runs on every MeterValues."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from csms.smart.models import InstalledProfile
from csms.smart.profiles import Period


@dataclass
class Record:
    station_id: str
    profile_id: int
    connector_id: int
    purpose: str
    stack_level: int
    rate_unit: str
    ocpp_version: str
    periods_kw: list[Period]
    schedule_start: datetime | None
    valid_to: datetime | None
    transaction_id: str | None
    request: dict[str, Any]
    installed_at: datetime
    verification: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def limit_kw_at(self, now: datetime) -> float | None:
        """The kW limit in force at ``now`` (None before the start or after valid_to)."""
        if self.valid_to is not None and now >= self.valid_to:
            return None
        offset = (now - (self.schedule_start or self.installed_at)).total_seconds()
        found = None
        for p in self.periods_kw:
            if p.start_s <= offset:
                found = p.limit
        return found


def _to_record(row: InstalledProfile) -> Record:
    return Record(
        station_id=row.station_id,
        profile_id=row.profile_id,
        connector_id=row.connector_id,
        purpose=row.purpose,
        stack_level=row.stack_level,
        rate_unit=row.rate_unit,
        ocpp_version=row.ocpp_version,
        periods_kw=[Period(int(s), float(kw)) for s, kw in row.periods_kw],
        schedule_start=row.schedule_start,
        valid_to=row.valid_to,
        transaction_id=row.transaction_id,
        request=row.request,
        installed_at=row.installed_at,
        verification=row.verification,
    )


class ProfileStore:
    def __init__(self, database: Any):
        self._db = database
        self._cache: dict[str, dict[int, Record]] = {}

    async def load(self) -> None:
        async with self._db.session() as s:
            rows = (await s.execute(select(InstalledProfile))).scalars().all()
        self._cache = {}
        for row in rows:
            self._cache.setdefault(row.station_id, {})[row.profile_id] = _to_record(row)

    def records(self, station_id: str) -> list[Record]:
        return sorted(self._cache.get(station_id, {}).values(), key=lambda r: r.profile_id)

    async def save(self, rec: Record) -> None:
        first = rec.periods_kw[0].limit if rec.periods_kw else 0.0
        row = InstalledProfile(
            station_id=rec.station_id,
            profile_id=rec.profile_id,
            connector_id=rec.connector_id,
            purpose=rec.purpose,
            stack_level=rec.stack_level,
            rate_unit=rec.rate_unit,
            ocpp_version=rec.ocpp_version,
            periods_kw=[[p.start_s, p.limit] for p in rec.periods_kw],
            schedule_start=rec.schedule_start,
            valid_to=rec.valid_to,
            transaction_id=rec.transaction_id,
            request=rec.request,
            installed_at=rec.installed_at,
            verification=rec.verification,
            limit_kw=first,
        )

        def write(s: Session) -> None:
            s.execute(
                delete(InstalledProfile).where(
                    InstalledProfile.station_id == rec.station_id,
                    InstalledProfile.profile_id == rec.profile_id,
                )
            )
            s.add(row)

        # through the database's single writer: on SQLite a second writing
        # connection would contend with the core's batches ("database is locked")
        await self._db.transaction(write)
        self._cache.setdefault(rec.station_id, {})[rec.profile_id] = rec

    async def remove(self, station_id: str, profile_ids: list[int]) -> None:
        if not profile_ids:
            return

        def write(s: Session) -> None:
            s.execute(
                delete(InstalledProfile).where(
                    InstalledProfile.station_id == station_id,
                    InstalledProfile.profile_id.in_(profile_ids),
                )
            )

        await self._db.transaction(write)
        cached = self._cache.get(station_id, {})
        for pid in profile_ids:
            cached.pop(pid, None)
