"""Feature entry point (see csms/features.py): builds :class:`SmartCharging`,
registers it as ``registry["smart"]`` and feeds it the core's events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from csms.features import FeatureContext
from csms.ports import CsmsEventSink, StationSession
from csms.smart.config import SmartChargingSection
from csms.smart.episodes import EpisodeStore
from csms.smart.metrics import SmartMetrics, registry_of
from csms.smart.service import SmartCharging
from csms.smart.store import ProfileStore
from evcommon import contract


class SmartSink:
    """The core's events, as smart charging needs them (all return at once except
    station_booted, which the core runs in a task it supervises)."""

    def __init__(self, service: SmartCharging):
        self.service = service

    async def station_state(self, event: contract.StationState) -> None:
        return None

    async def connector_status(self, event: contract.ConnectorStatus) -> None:
        return None

    async def meter_values(self, event: contract.MeterValuesEvent) -> None:
        await self.service.on_meter(event)

    async def transaction(self, event: contract.TransactionEvent) -> None:
        await self.service.on_transaction(event)

    async def ev_needs(self, event: contract.EVChargingNeeds) -> None:
        if event.source == "ev":
            self.service.on_ev_needs(event)

    async def station_booted(self, station: StationSession) -> None:
        await self.service.station_booted(station)


@asynccontextmanager
async def _run(ctx: FeatureContext, settings: SmartChargingSection) -> AsyncIterator[SmartSink]:
    store = ProfileStore(ctx.database)
    await store.load()
    episodes = EpisodeStore(ctx.database)
    metrics = SmartMetrics(registry_of(ctx.directory))
    service = SmartCharging(
        settings, ctx.directory, store, ctx.clock, metrics, episodes, await episodes.load()
    )
    ctx.registry["smart"] = service
    try:
        yield SmartSink(service)
    finally:
        ctx.registry.pop("smart", None)


def factory(ctx: FeatureContext) -> AbstractAsyncContextManager[CsmsEventSink] | None:
    settings: SmartChargingSection = ctx.settings.smart_charging
    if not settings.enabled:
        return None
    return _run(ctx, settings)
