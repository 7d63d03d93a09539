"""Edge fixtures other areas may reuse: a contract peer (answers commands like the CSMS
bridge, publishes station and meter state) and a small site config for the daemon.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import aiomqtt
import pytest
from pydantic import BaseModel

from evcommon.aio import cancel_all
from evcommon.contract import (
    Command,
    CommandReply,
    ConnectorStatus,
    ContractError,
    SiteMeterReading,
    StationState,
    Topics,
    encode,
    parse_command,
)

Responder = Callable[[Command], CommandReply | None]


def reply_ok(cmd: Command) -> CommandReply | None:
    return CommandReply.success(cmd.correlation_id, {"status": "Accepted"})


class ContractPeer:
    """Stands where the CSMS bridge stands: records each command and answers it once.

    ``respond`` decides the reply (None: stay silent, to test timeouts). Also
    publishes station state, connector status and site meter readings.
    """

    def __init__(self, host: str, port: int, prefix: str = "evsite/v1"):
        self.host, self.port = host, port
        self.topics = Topics(prefix)
        self.commands: list[Command] = []
        self.respond: Responder = reply_ok
        self._changed = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ContractPeer:
        self._client = aiomqtt.Client(self.host, self.port, identifier="contract-peer")
        await self._client.__aenter__()
        await self._client.subscribe(self.topics.all_commands, qos=1)
        self._task = asyncio.create_task(self._serve(), name="contract-peer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            await cancel_all([self._task])
        if self._client is not None:
            await self._client.__aexit__(None, None, None)

    async def _serve(self) -> None:
        assert self._client is not None
        async for message in self._client.messages:
            try:
                cmd = parse_command(bytes(message.payload))  # type: ignore[arg-type]
            except ContractError:
                continue
            self.commands.append(cmd)
            self._changed.set()
            reply = self.respond(cmd)
            if reply is not None and cmd.reply_to:
                await self._client.publish(cmd.reply_to, encode(reply), qos=1)

    async def wait_for(
        self, predicate: Callable[[list[Command]], Any], timeout_s: float = 5.0
    ) -> Any:
        """Wait (real time) until ``predicate(commands)`` is truthy; return its value."""
        async with asyncio.timeout(timeout_s):
            while True:
                result = predicate(self.commands)
                if result:
                    return result
                self._changed.clear()
                await self._changed.wait()

    def set_limits(self, station_id: str | None = None) -> list[Any]:
        return [
            c
            for c in self.commands
            if c.command == "set_limit" and (station_id is None or c.station_id == station_id)
        ]

    def last_limit(self, station_id: str, connector_id: int = 1) -> float | None:
        for c in reversed(self.commands):
            if (
                c.command == "set_limit"
                and c.station_id == station_id
                and c.connector_id == connector_id
            ):
                return c.limit_kw
        return None

    async def publish(self, topic: str, model: BaseModel, *, retain: bool = False) -> None:
        assert self._client is not None
        await self._client.publish(topic, encode(model), qos=1, retain=retain)

    async def station_online(self, station_id: str, at: datetime, online: bool = True) -> None:
        await self.publish(
            self.topics.station_state(station_id),
            StationState(ts=at, station_id=station_id, online=online, ocpp_version="1.6"),
            retain=True,
        )

    async def status(
        self, station_id: str, status: str, at: datetime, connector_id: int = 1
    ) -> None:
        await self.publish(
            self.topics.connector_status(station_id, connector_id),
            ConnectorStatus(ts=at, station_id=station_id, connector_id=connector_id, status=status),
            retain=True,
        )

    async def meter(self, site_id: str, name: str, power_kw: float, at: datetime) -> None:
        await self.publish(
            self.topics.site_meter(site_id, name), SiteMeterReading(ts=at, power_kw=power_kw)
        )


@pytest.fixture
async def contract_peer(mqtt_broker: Any) -> AsyncIterator[ContractPeer]:
    async with ContractPeer(mqtt_broker.host, mqtt_broker.port) as peer:
        yield peer


SMALL_SITE = """
[site]
id = "test-site"
timezone = "America/Los_Angeles"
import_limit_kw = 60

[mqtt]
host = "{host}"
port = {port}
reconnect_min_s = 0.05
reconnect_max_s = 0.5

[control]
interval_s = 60
stale_after_s = 180
min_command_period_s = 5
command_timeout_s = 0.5
command_retries = 2
retry_backoff_s = 0.05

[shed]
release_below_kw = 8
min_hold_s = 30

[meters.main]
[meters.dcfc]

[metrics]
enabled = false

[groups.fleet-1]
start_window = {{ opens = 21:30:00 }}
safe_limit_kw = 1.65
[groups.fleet-2]
start_window = {{ opens = 23:30:00 }}
safe_limit_kw = 1.65
shed = true
[groups.public]
safe_limit_kw = 0
[groups.dcfc]
controlled = false

[stations.F1]
connectors.1 = {{ group = "fleet-1", max_power_kw = 6.6, phases = 1 }}
[stations.F2]
connectors.1 = {{ group = "fleet-2", max_power_kw = 6.6, phases = 1 }}
[stations.P1]
connectors.1 = {{ group = "public", max_power_kw = 6.6, phases = 1 }}
[stations.P2]
connectors.1 = {{ group = "public", max_power_kw = 6.6, phases = 1 }}
[stations.DC]
connectors.1 = {{ group = "dcfc", max_power_kw = 50 }}
"""


def small_site_toml(host: str, port: int) -> str:
    return SMALL_SITE.format(host=host, port=port)


@asynccontextmanager
async def running_edge(app: Any, timeout_s: float = 10.0) -> AsyncIterator[Any]:
    """Run an EdgeApp in a task until the block ends; connected on entry."""
    task = asyncio.create_task(app.run(), name="edge-under-test")
    try:
        async with asyncio.timeout(timeout_s):
            await app.ready.wait()
            await app.link.connected.wait()
        yield app
    finally:
        app.stop()
        await asyncio.wait({task}, timeout=timeout_s)
        if not task.done():  # say which of the daemon's tasks did not stop, then fail
            for t in asyncio.all_tasks():
                if t.get_name() in ("mqtt", "control-loop", "watchdog") or t.get_name().startswith(
                    "send-"
                ):
                    t.print_stack(limit=6, file=sys.stderr)
            task.cancel()
            raise AssertionError(f"edge did not stop within {timeout_s:g} s")
        task.result()
