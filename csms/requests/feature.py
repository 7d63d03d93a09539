"""Feature entry point (see csms/features.py): driver requests.

Builds :class:`RequestService` (registered as ``registry["requests"]``; the HTTP service
in csms.http serves it) and feeds it the transaction events. Comes after the MQTT
bridge, which it finds as ``registry["mqtt"]`` to publish requests and read site plans.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from csms.features import FeatureContext
from csms.ports import CsmsEventSink, StationSession
from csms.requests.notifiers import NotifierMetrics, build_notifier
from csms.requests.service import RequestService
from csms.smart.metrics import registry_of
from evcommon import contract


class RequestSink:
    """Only transactions matter here; everything returns at once."""

    def __init__(self, service: RequestService):
        self.service = service

    async def station_state(self, event: contract.StationState) -> None:
        return None

    async def connector_status(self, event: contract.ConnectorStatus) -> None:
        return None

    async def meter_values(self, event: contract.MeterValuesEvent) -> None:
        return None

    async def transaction(self, event: contract.TransactionEvent) -> None:
        self.service.on_transaction(event)

    async def ev_needs(self, event: contract.EVChargingNeeds) -> None:
        return None

    async def station_booted(self, station: StationSession) -> None:
        return None


def default_link_base(settings: object, port: int | None = None) -> str:
    """``[http] public_url``, else http://{host}:{port} (the bound port when known)."""
    http = settings.http  # type: ignore[attr-defined]
    if http.public_url:
        return str(http.public_url)
    return f"http://{http.host}:{port if port is not None else http.port}"


@asynccontextmanager
async def _run(ctx: FeatureContext) -> AsyncIterator[RequestSink]:
    settings = ctx.settings
    mqtt = ctx.registry.get("mqtt")
    service = RequestService(
        settings.drivers,
        ctx.database,
        ctx.clock,
        build_notifier(settings.drivers),
        NotifierMetrics(registry_of(ctx.directory)),
        topics=contract.Topics(settings.mqtt.topic_prefix),
        publisher=mqtt,  # type: ignore[arg-type]
        link_base=default_link_base(settings),
    )
    await service.start()
    ctx.registry["requests"] = service
    worker = asyncio.create_task(service.run(), name="driver-requests")
    try:
        yield RequestSink(service)
    finally:
        ctx.registry.pop("requests", None)
        with contextlib.suppress(TimeoutError):  # let the last starts get their link
            await asyncio.wait_for(service.idle(), 2.0)
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        await service.close()


def factory(ctx: FeatureContext) -> AbstractAsyncContextManager[CsmsEventSink] | None:
    return _run(ctx)
