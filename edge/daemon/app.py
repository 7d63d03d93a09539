"""The edge daemon: wires config, MQTT, cache, controller, senders, metrics and systemd.

``EdgeApp.run()`` runs everything as named tasks of one TaskGroup until
``stop()`` (SIGTERM/SIGINT in the CLI), then cancels them; the MQTT link says
"offline" on its way out.
"""

from __future__ import annotations

import asyncio
import importlib
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

import aiomqtt

from edge.config import EdgeConfig, load_site_tariff
from edge.daemon.commands import CommandClient
from edge.daemon.controller import Controller
from edge.daemon.link import MqttLink
from edge.daemon.meters import MeterPayloadError, parse_meter
from edge.daemon.state import SiteState
from edge.metrics import EdgeMetrics
from edge.planners import get_planner
from edge.planning import Planner
from evcommon import systemd
from evcommon.aio import cancel_all
from evcommon.clock import Clock, RealClock
from evcommon.contract import (
    ConnectorStatus,
    ContractError,
    EVChargingNeeds,
    MeterValuesEvent,
    StationState,
    TransactionEvent,
    decode,
)
from evcommon.logs import get_logger

TICK_TRIGGERS = {"arrival", "departure", "transaction_started", "transaction_ended", "ev_needs"}


class EdgeApp:
    def __init__(
        self,
        cfg: EdgeConfig,
        clock: Clock | None = None,
        *,
        planner: Planner | None = None,
        metrics: EdgeMetrics | None = None,
    ):
        self.cfg = cfg
        self.clock = clock or RealClock()
        self.log = get_logger("edge", site_id=cfg.site.id)
        self.metrics = metrics or EdgeMetrics()
        self.state = SiteState()
        topics = cfg.topics
        self.link = MqttLink(
            cfg,
            self._subscriptions(),
            self._on_message,
            on_state=lambda up: self.metrics.mqtt_connected.set(1 if up else 0),
        )
        self.commands = CommandClient(
            self.link.publish,
            topics.commands,
            topics.replies(cfg.client_id),
            timeout_s=cfg.control.command_timeout_s,
            retries=cfg.control.command_retries,
            backoff_s=cfg.control.retry_backoff_s,
            on_result=self.metrics.command_result,
            max_in_flight=cfg.control.max_commands_in_flight,
            issued_by=cfg.client_id,
        )
        self.controller = Controller(
            cfg,
            self.clock,
            self.state,
            planner or get_planner(cfg.optimizer.strategy, cfg.optimizer),
            self.commands,
            self.metrics,
            self.link.publish,
            tariff=self._tariff(),
        )
        self._meter_topics: dict[str, list[str]] = {}
        for role in cfg.meters:
            self._meter_topics.setdefault(cfg.meter_topic(role), []).append(role)
        self._bad_logged: set[str] = set()
        self._arrivals: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)
        self._stop = asyncio.Event()
        self.metrics_port: int | None = None
        self.ready = asyncio.Event()

    def _subscriptions(self) -> list[str]:
        t = self.cfg.topics
        meters = {self.cfg.meter_topic(r) for r in self.cfg.meters}
        subs = [t.all_stations, t.replies(self.cfg.client_id), *sorted(meters)]
        if self._siting_enabled:
            subs.append(t.arrivals(self.cfg.site.id))
        return subs

    @property
    def _siting_enabled(self) -> bool:
        return bool(getattr(self.cfg.siting, "enabled", False))

    def _tariff(self) -> object | None:
        return load_site_tariff(self.cfg)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        async with AsyncExitStack() as stack:
            if self.cfg.metrics.enabled:
                self.metrics_port = self.metrics.serve(self.cfg.metrics.host, self.cfg.metrics.port)
                stack.callback(self.metrics.close)
            siting = await self._siting(stack)
            async with asyncio.TaskGroup() as tg:
                tasks = [
                    tg.create_task(self.link.run(), name="mqtt"),
                    tg.create_task(self.controller.run(), name="control-loop"),
                    tg.create_task(systemd.watchdog_loop(), name="watchdog"),
                ]
                for sid in self.cfg.station_ids():
                    tasks.append(
                        tg.create_task(self.controller.run_sender(sid), name=f"send-{sid}")
                    )
                if siting is not None:
                    tasks.append(tg.create_task(self._siting_loop(siting), name="siting"))
                if self.controller.history.file is not None:
                    writer = self.controller.history.run_writer()
                    tasks.append(tg.create_task(writer, name="state-writer"))
                systemd.notify("READY=1", f"STATUS=site {self.cfg.site.id}")
                self.ready.set()
                self.log.info(
                    "edge running",
                    stations=len(self.cfg.station_ids()),
                    planner=self.controller.planner.name,
                )
                await self._stop.wait()
                systemd.notify("STOPPING=1")
                self.log.info("edge stopping")
                await cancel_all(tasks)
                self.controller.history.flush(self.clock.now())  # the interval so far

    async def _siting(self, stack: AsyncExitStack) -> Any:
        """Hook for edge.siting.service.SitingService when [siting] enabled and it exists."""
        if not self._siting_enabled:
            return None
        try:
            module = importlib.import_module("edge.siting.service")
        except ModuleNotFoundError:
            self.log.warning("siting enabled but edge.siting.service is not installed")
            return None
        service = module.SitingService(
            self.cfg.siting, self.cfg, self.clock, self.link.publish, topics=self.cfg.topics
        )
        return await stack.enter_async_context(service)

    async def _siting_loop(self, service: Any) -> None:
        """Hand arrival requests to the siting service one at a time (it publishes assignments)."""
        while True:
            payload = await self._arrivals.get()
            try:
                await service.handle_arrival(payload)
            except Exception as exc:  # one bad request must not end siting for the site
                self.log.error("siting failed for an arrival", error=repr(exc))

    # -- message handling (synchronous: cache and trigger only) -----------------
    def _on_message(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        payload = message.payload
        if not isinstance(payload, bytes | bytearray):
            payload = str(payload).encode()
        if topic == self.commands.reply_topic:
            self.commands.handle_reply(payload)
        elif topic in self._meter_topics:
            for role in self._meter_topics[topic]:
                self._on_meter(role, payload, bool(message.retain))
        elif self._siting_enabled and topic == self.cfg.topics.arrivals(self.cfg.site.id):
            try:
                self._arrivals.put_nowait(bytes(payload))
            except asyncio.QueueFull:
                self.log.warning("siting queue full, arrival request dropped")
        elif topic.startswith(self.cfg.topics.prefix + "/stations/"):
            try:
                self._on_station(topic, payload)
            except ContractError as exc:
                self.log.warning("bad station event ignored", topic=topic, error=str(exc))

    def _on_meter(self, role: str, payload: bytes | bytearray, retained: bool) -> None:
        meter = self.cfg.meters[role]  # type: ignore[index]
        try:
            sample = parse_meter(payload, meter)
        except MeterPayloadError as exc:
            self.metrics.bad_payloads.labels(role).inc()
            if role not in self._bad_logged:  # once per meter until a good one arrives
                self.log.warning("bad meter payload ignored", meter=role, error=str(exc))
                self._bad_logged.add(role)
            return
        self._bad_logged.discard(role)
        now = self.clock.now()
        # a retained reading may be old: trust its own stamp then, never one from the future
        at: datetime = min(sample.ts, now) if retained and sample.ts else now
        self.controller.on_meter(role, sample.power_kw, at)

    def _on_station(self, topic: str, payload: bytes | bytearray) -> None:
        parts = topic[len(self.cfg.topics.prefix) + 1 :].split("/")
        now = self.clock.now()
        trigger: str | None = None
        if len(parts) == 3 and parts[2] == "state":
            ev = decode(StationState, payload)
            trigger = self.state.apply_station(ev)
            if trigger == "station_online":
                self.controller.on_station_online(ev.station_id)
            return
        if len(parts) == 3 and parts[2] == "transactions":
            tx = decode(TransactionEvent, payload)
            trigger = self.state.apply_transaction(tx, now)
            key = f"{tx.station_id}/{tx.connector_id}"
        elif len(parts) == 5 and parts[2] == "connectors":
            key = f"{parts[1]}/{parts[3]}"
            if parts[4] == "status":
                trigger = self.state.apply_status(decode(ConnectorStatus, payload), now)
            elif parts[4] == "meter":
                self.state.apply_meter_values(decode(MeterValuesEvent, payload), now)
            elif parts[4] == "ev_needs":
                trigger = self.state.apply_needs(decode(EVChargingNeeds, payload))
        else:
            return
        if trigger in TICK_TRIGGERS:
            self.controller.request_tick(f"{trigger} {key}")
