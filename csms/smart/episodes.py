"""The persistent record of over-limit episodes (thin I/O over
:class:`csms.smart.models.OverLimitEpisode`).

The monitor asks :meth:`EpisodeStore.load` which episodes are still open when the
CSMS starts, so a restart in the middle of an episode does not raise its alarm again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from csms.smart.models import OverLimitEpisode

Key = tuple[str, int]  # (station id, connector id)


class EpisodeLog(Protocol):
    """What the over-limit monitor needs to keep episodes across restarts."""

    async def started(
        self, key: Key, at: datetime, measured_kw: float, limit_kw: float, profile_id: int | None
    ) -> None: ...

    async def ended(self, keys: list[Key], at: datetime, reason: str) -> None: ...


class EpisodeStore:
    def __init__(self, database: Any):
        self._db = database

    async def load(self) -> set[Key]:
        """The (station, connector) pairs with an episode still open."""
        async with self._db.session() as s:
            rows = await s.execute(
                select(OverLimitEpisode.station_id, OverLimitEpisode.connector_id).where(
                    OverLimitEpisode.ended_at.is_(None)
                )
            )
        return {(str(sid), int(cid)) for sid, cid in rows.all()}

    async def started(
        self, key: Key, at: datetime, measured_kw: float, limit_kw: float, profile_id: int | None
    ) -> None:
        row = OverLimitEpisode(
            station_id=key[0],
            connector_id=key[1],
            started_at=at,
            measured_kw=measured_kw,
            limit_kw=limit_kw,
            profile_id=profile_id,
        )

        def write(s: Session) -> None:
            s.add(row)

        await self._db.transaction(write)

    async def ended(self, keys: list[Key], at: datetime, reason: str) -> None:
        if not keys:
            return

        def write(s: Session) -> None:
            for station_id, connector_id in keys:
                s.execute(
                    update(OverLimitEpisode)
                    .where(
                        OverLimitEpisode.station_id == station_id,
                        OverLimitEpisode.connector_id == connector_id,
                        OverLimitEpisode.ended_at.is_(None),
                    )
                    .values(ended_at=at, end_reason=reason)
                )

        await self._db.transaction(write)
