"""Feature entry point (see csms/features.py): the MQTT bridge.

Publishes every core event as its contract model (state topics retained), the
smart-charging profile events and alarms, and executes commands. Built after
smart charging, which it finds as ``registry["smart"]``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib import metadata

from csms.bridge.client import MqttBridge
from csms.bridge.commands import CommandExecutor
from csms.bridge.config import MqttSection
from csms.bridge.handlers import build_handlers
from csms.bridge.metrics import BridgeMetrics
from csms.bridge.outbox import Outbox, Outgoing
from csms.features import FeatureContext
from csms.ports import CsmsEventSink, StationSession
from csms.smart.metrics import registry_of
from evcommon import contract
from evcommon.aio import cancel_all


class BridgeSink:
    """Core events -> outbox. Never blocks (see csms.bridge.outbox)."""

    def __init__(self, outbox: Outbox, topics: contract.Topics):
        self.outbox = outbox
        self.topics = topics

    async def station_state(self, event: contract.StationState) -> None:
        self.outbox.put_state(self.topics.station_state(event.station_id), contract.encode(event))

    async def connector_status(self, event: contract.ConnectorStatus) -> None:
        topic = self.topics.connector_status(event.station_id, event.connector_id)
        self.outbox.put_state(topic, contract.encode(event))

    async def meter_values(self, event: contract.MeterValuesEvent) -> None:
        topic = self.topics.connector_meter(event.station_id, event.connector_id)
        self.outbox.put_state(topic, contract.encode(event))

    async def transaction(self, event: contract.TransactionEvent) -> None:
        topic = self.topics.transactions(event.station_id)
        self.outbox.put_event(Outgoing(topic, contract.encode(event)))

    async def ev_needs(self, event: contract.EVChargingNeeds) -> None:
        topic = self.topics.ev_needs(event.station_id, event.connector_id)
        self.outbox.put_state(topic, contract.encode(event))

    async def station_booted(self, station: StationSession) -> None:
        return None

    def smart_event(self, event: contract.ProfileEvent | contract.Alarm) -> None:
        if isinstance(event, contract.Alarm):
            topic = self.topics.alarms(event.station_id)
        else:
            topic = self.topics.profiles(event.station_id)
        self.outbox.put_event(Outgoing(topic, contract.encode(event)))


def _version() -> str | None:
    try:
        return metadata.version("evsite")
    except metadata.PackageNotFoundError:
        return None


@asynccontextmanager
async def _run(ctx: FeatureContext, settings: MqttSection) -> AsyncIterator[BridgeSink]:
    metrics = BridgeMetrics(registry_of(ctx.directory))
    outbox = Outbox(settings.queue_size, metrics)
    sink = BridgeSink(outbox, contract.Topics(settings.topic_prefix))
    smart = ctx.registry.get("smart")
    subscribe = getattr(smart, "subscribe", None)
    if subscribe is not None:
        subscribe(sink.smart_event)
    executor = CommandExecutor(
        ctx.directory,
        build_handlers(ctx),
        timeout_s=settings.command_timeout_s,
        clock=ctx.clock,
        audit=ctx.audit,
    )
    bridge = MqttBridge(settings, executor, outbox, version=_version())
    ctx.registry["mqtt"] = bridge
    task = asyncio.create_task(bridge.run(), name="mqtt-bridge")
    try:
        yield sink
    finally:
        await bridge.close()
        # repeated cancels: aiomqtt's wait_for can swallow one (see evcommon.aio)
        await cancel_all([task])
        with contextlib.suppress(asyncio.CancelledError):
            await task
        ctx.registry.pop("mqtt", None)


def factory(ctx: FeatureContext) -> AbstractAsyncContextManager[CsmsEventSink] | None:
    settings: MqttSection = ctx.settings.mqtt
    if not settings.enabled:
        return None
    return _run(ctx, settings)
