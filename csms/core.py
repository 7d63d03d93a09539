"""What every connection and handler shares: settings, clock, metrics, the commit
queue, the live sessions (StationDirectory) and the event sinks of the features."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from csms.config import CsmsSettings
from csms.db.database import Database
from csms.db.models import Station
from csms.db.writer import CommitQueue
from csms.metrics import Metrics
from csms.ports import CsmsEventSink
from evcommon import contract
from evcommon.clock import Clock

if TYPE_CHECKING:
    from csms.connection import Connection

# a lazy proxy: binding at import time would freeze the logging config of that moment
log = structlog.get_logger("csms.core")


class Core:
    def __init__(
        self,
        settings: CsmsSettings,
        clock: Clock,
        database: Database,
        metrics: Metrics,
        tasks: asyncio.TaskGroup,
    ):
        self.settings = settings
        self.clock = clock
        self.database = database
        self.metrics = metrics
        self.commits = CommitQueue(database, metrics, max_batch=settings.database.max_batch)
        self.sinks: list[CsmsEventSink] = []
        self.connections: dict[str, Connection] = {}
        self._tasks = tasks
        self.supervised: set[asyncio.Task[None]] = set()
        # DataTransfer handlers by vendorId: async (station_id, message_id, data) -> (status, data)
        self.data_transfer_handlers: dict[str, Any] = {}

    # -- StationDirectory ------------------------------------------------------
    def session(self, station_id: str) -> Connection | None:
        conn = self.connections.get(station_id)
        return conn if conn is not None and conn.online else None

    async def is_registered(self, station_id: str) -> bool:
        if self.settings.security.allow_unknown_stations:
            return True
        return await self.registered_station(station_id) is not None

    async def station(self, station_id: str) -> Station | None:
        """The station's row (registered or not), or None when never seen."""

        def read(s: Session) -> Station | None:
            return s.execute(
                select(Station).where(Station.station_id == station_id)
            ).scalar_one_or_none()

        return await self.database.transaction(read)

    async def registered_station(self, station_id: str) -> Station | None:
        row = await self.station(station_id)
        return row if row is not None and row.registry_status is not None else None

    async def reconcile_presence(self) -> int:
        """At start-up, every station seen before that is not connected is offline: its
        gauge goes to 0 (a registered one that does not come back trips StationOffline) and
        its retained MQTT state is corrected (a CSMS killed mid-run left ``online: true``).
        Returns how many stations were seen before."""

        def read(s: Session) -> list[tuple[str, str, bool]]:
            rows = s.execute(
                select(Station.station_id, Station.ocpp_version, Station.registry_status).where(
                    Station.ocpp_version.is_not(None)
                )
            )
            return [(sid, str(version), status is not None) for sid, version, status in rows]

        known = await self.database.transaction(read)
        for sid, version, registered in known:
            if sid in self.connections:
                continue
            if registered:
                self.metrics.station_offline(sid, version)
            await self.emit("station_state", self.presence(sid, version, online=False))
        return len(known)

    def presence(
        self, sid: str, version: str, *, online: bool, row: Station | None = None
    ) -> contract.StationState:
        """The retained station state; an online one carries the last boot's facts."""
        return contract.StationState(
            ts=self.clock.now(),
            station_id=sid,
            online=online,
            ocpp_version=version,  # type: ignore[arg-type]
            vendor=row.vendor if row is not None else None,
            model=row.model if row is not None else None,
            firmware_version=row.firmware_version if row is not None else None,
            boot_status=row.boot_status if row is not None else None,
        )

    # -- events ----------------------------------------------------------------
    async def emit(self, kind: str, event: contract._Event) -> None:
        """Hand a normalised event to every sink (called after the commit)."""
        for sink in self.sinks:
            try:
                await getattr(sink, kind)(event)
            except Exception:
                log.exception("event sink failed", sink=type(sink).__name__, kind=kind)

    def station_booted(self, conn: Connection) -> None:
        for sink in self.sinks:
            self.supervise(
                sink.station_booted(conn), name=f"booted:{conn.station_id}:{type(sink).__name__}"
            )

    def supervise(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[None]:
        """Run ``coro`` in the app's TaskGroup; its failure is logged, never fatal."""

        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("supervised task failed", task=name)

        task = self._tasks.create_task(guarded(), name=name)
        self.supervised.add(task)
        task.add_done_callback(self.supervised.discard)
        return task
