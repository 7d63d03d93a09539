"""Test helpers for the CSMS <-> edge MQTT contract (reusable by other areas).

``run_csms(broker, db_url, clock, ...)`` runs a CsmsApp on port 0 with the MQTT
bridge and smart charging on; :class:`ContractProbe` is the edge side: it records
every message under the prefix and sends commands with MQTT 5 response topic and
correlation data (or with ``reply_to``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiomqtt
import orjson
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from csms.app import CsmsApp
from csms.bridge.client import NODELAY
from csms.config import CsmsSettings
from evcommon import contract
from evcommon.clock import Clock


@asynccontextmanager
async def run_csms(
    broker: Any, db_url: str, clock: Clock, **sections: dict[str, Any]
) -> AsyncIterator[CsmsApp]:
    """A CsmsApp on a free port, MQTT on ``broker``, all id tags accepted."""
    config: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 0, "metrics_port": -1},
        "http": {"host": "127.0.0.1", "port": 0},
        "database": {"url": db_url},
        "security": {"accept_all_id_tags": True},
        "mqtt": {
            "enabled": True,
            "host": broker.host,
            "port": broker.port,
            "reconnect_min_s": 0.1,
            "reconnect_max_s": 1.0,
        },
    }
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    settings = CsmsSettings(**config)
    async with CsmsApp(settings, clock) as app:
        bridge = app.registry.get("mqtt")
        if bridge is not None:
            await asyncio.wait_for(bridge.connected.wait(), 10)  # type: ignore[attr-defined]
        yield app


class ContractProbe:
    """The edge's side of the contract, for tests."""

    def __init__(self, client: aiomqtt.Client, prefix: str = contract.DEFAULT_PREFIX):
        self.client = client
        self.topics = contract.Topics(prefix)
        self.messages: list[tuple[str, bytes, Any]] = []
        self._changed = asyncio.Event()
        self._ids = itertools.count(1)
        self.reply_topic = self.topics.replies(f"probe-{uuid.uuid4().hex[:8]}")

    async def _read(self) -> None:
        async for m in self.client.messages:
            raw = m.payload if isinstance(m.payload, bytes | bytearray) else b""
            self.messages.append((m.topic.value, bytes(raw), m.properties))
            self._changed.set()

    async def wait_for(
        self,
        match: Callable[[str, dict[str, Any]], bool],
        *,
        after: int = 0,
        timeout_s: float = 10.0,
    ) -> tuple[int, dict[str, Any]]:
        """The first message from index ``after`` on whose (topic, payload) match."""
        async with asyncio.timeout(timeout_s):
            seen = after
            while True:
                for i in range(seen, len(self.messages)):
                    topic, raw, _ = self.messages[i]
                    try:
                        data = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        continue
                    if isinstance(data, dict) and match(topic, data):
                        return i, data
                seen = len(self.messages)
                self._changed.clear()
                await self._changed.wait()

    async def send(
        self,
        station_id: str,
        payload: bytes | dict[str, Any] | contract.BaseModel,
        *,
        mqtt5: bool = True,
    ) -> bytes:
        """Publish a command; returns the correlation data used (MQTT 5)."""
        if isinstance(payload, contract.BaseModel):
            raw = contract.encode(payload)
        elif isinstance(payload, dict):
            raw = orjson.dumps(payload)
        else:
            raw = payload
        corr = f"corr-{next(self._ids)}".encode()
        props = None
        if mqtt5:
            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic = self.reply_topic
            props.CorrelationData = corr
        await self.client.publish(self.topics.commands(station_id), raw, qos=1, properties=props)
        return corr

    async def command(
        self,
        station_id: str,
        payload: bytes | dict[str, Any] | contract.BaseModel,
        *,
        timeout_s: float = 15.0,
    ) -> contract.CommandReply:
        """Send with response topic + correlation data; await the one reply."""
        start = len(self.messages)
        corr = await self.send(station_id, payload)
        async with asyncio.timeout(timeout_s):
            while True:
                for i in range(start, len(self.messages)):
                    topic, raw, props = self.messages[i]
                    if (
                        topic == self.reply_topic
                        and getattr(props, "CorrelationData", None) == corr
                    ):
                        return contract.decode(contract.CommandReply, raw)
                start = len(self.messages)
                self._changed.clear()
                await self._changed.wait()

    def count(self, topic: str) -> int:
        return sum(1 for t, _, _ in self.messages if t == topic)


@asynccontextmanager
async def contract_probe(
    broker: Any, protocol: aiomqtt.ProtocolVersion = aiomqtt.ProtocolVersion.V5
) -> AsyncIterator[ContractProbe]:
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        protocol=protocol,
        socket_options=NODELAY,  # see csms.bridge.client.NODELAY
    ) as client:
        probe = ContractProbe(client)
        await client.subscribe(f"{contract.DEFAULT_PREFIX}/#", qos=1)
        task = asyncio.create_task(probe._read(), name="contract-probe")
        try:
            yield probe
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task
