"""A real CsmsEventSink that keeps what it receives (tests append it to app.core.sinks)."""

from __future__ import annotations

import asyncio
from typing import Any

from csms.ports import StationSession
from evcommon import contract


class RecordingSink:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.booted: list[StationSession] = []
        self.changed = asyncio.Condition()

    async def _add(self, kind: str, event: Any) -> None:
        self.events.append((kind, event))
        async with self.changed:
            self.changed.notify_all()

    async def station_state(self, event: contract.StationState) -> None:
        await self._add("station_state", event)

    async def connector_status(self, event: contract.ConnectorStatus) -> None:
        await self._add("connector_status", event)

    async def meter_values(self, event: contract.MeterValuesEvent) -> None:
        await self._add("meter_values", event)

    async def transaction(self, event: contract.TransactionEvent) -> None:
        await self._add("transaction", event)

    async def ev_needs(self, event: contract.EVChargingNeeds) -> None:
        await self._add("ev_needs", event)

    async def station_booted(self, station: StationSession) -> None:
        self.booted.append(station)
        await self._add("booted", station)

    def of(self, kind: str) -> list[Any]:
        return [e for k, e in self.events if k == kind]

    async def wait_for(self, kind: str, count: int = 1, timeout_s: float = 5) -> list[Any]:
        async def until() -> None:
            async with self.changed:
                await self.changed.wait_for(lambda: len(self.of(kind)) >= count)

        await asyncio.wait_for(until(), timeout_s)
        return self.of(kind)
