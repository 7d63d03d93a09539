"""Shutdown of the MQTT bridge is certain: cancelled while the broker is unreachable,
while it connects, or exactly as the CONNACK arrives (Python 3.11's ``wait_for`` inside
aiomqtt swallows a cancellation that coincides with its result; see evcommon.aio)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import pytest

from csms.app import CsmsApp
from csms.bridge.client import MqttBridge
from csms.config import CsmsSettings
from evcommon.clock import SimClock
from tests.plugins.infra import Broker, free_port

pytestmark = pytest.mark.mqtt
ITERATIONS = 10
EXIT_S = 3.0  # a CsmsApp must be gone within this after it is told to stop
MQTT_LEVEL = b"\x00\x04MQTT"  # CONNECT: protocol name, then the level byte


class SilentBroker:
    """Accepts TCP connections, reads the CONNECT and never answers (a hung broker);
    records the protocol level of every CONNECT (4 = MQTT 3.1.1, 5 = MQTT 5)."""

    def __init__(self) -> None:
        self.levels: list[int] = []
        self.got_connect = asyncio.Event()
        self._writers: list[asyncio.StreamWriter] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        data = b""
        while (at := data.find(MQTT_LEVEL)) < 0 or len(data) < at + 7:
            chunk = await reader.read(256)
            if not chunk:
                return
            data += chunk
        self.levels.append(data[at + 6])
        self.got_connect.set()
        while await reader.read(256):  # until the client gives up
            pass

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Broker]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            yield Broker("127.0.0.1", port)
        finally:
            for writer in self._writers:
                writer.close()
            server.close()
            await server.wait_closed()


def settings(broker: Broker, db_url: str, **mqtt: Any) -> CsmsSettings:
    return CsmsSettings(
        server={"host": "127.0.0.1", "port": 0, "metrics_port": -1},
        database={"url": db_url},
        mqtt={
            "enabled": True,
            "host": broker.host,
            "port": broker.port,
            "reconnect_min_s": 0.05,
            "reconnect_max_s": 0.2,
            **mqtt,
        },
    )


def clock() -> SimClock:
    return SimClock(datetime(2026, 7, 1, 8, tzinfo=UTC), speed=60.0)


async def run_and_stop(cfg: CsmsSettings, delay_s: float) -> float:
    """Enter a CsmsApp, leave it after ``delay_s``; how long leaving took (s)."""
    async with asyncio.timeout(20):  # entering must not hang either
        app = CsmsApp(cfg, clock())
        await app.__aenter__()
    await asyncio.sleep(delay_s)
    started = time.monotonic()
    async with asyncio.timeout(EXIT_S):
        await app.__aexit__(None, None, None)
    return time.monotonic() - started


async def test_stops_while_broker_unreachable(sqlite_url: str) -> None:
    cfg = settings(Broker("127.0.0.1", free_port()), sqlite_url)  # nothing listens there
    for i in range(ITERATIONS):
        # inside a connect attempt or inside the backoff sleep
        assert await run_and_stop(cfg, random.uniform(0, 0.25)) < EXIT_S, f"iteration {i}"


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_stops_while_connecting(sqlite_url: str, protocol: str) -> None:
    silent = SilentBroker()
    async with silent.running() as broker:
        cfg = settings(broker, sqlite_url, protocol=protocol)
        for i in range(ITERATIONS):
            silent.got_connect.clear()
            app = CsmsApp(cfg, clock())
            await app.__aenter__()
            try:
                async with asyncio.timeout(5):
                    await silent.got_connect.wait()  # now awaiting the CONNACK
            finally:
                started = time.monotonic()
                async with asyncio.timeout(EXIT_S):
                    await app.__aexit__(None, None, None)
            assert time.monotonic() - started < EXIT_S, f"iteration {i}"
    # the CONNECT carried the configured protocol level
    assert set(silent.levels) == {5 if protocol == "5" else 4}


async def test_stops_around_the_connack(mqtt_broker: Broker, sqlite_url: str) -> None:
    """A real broker: stop at random moments around the connection's start."""
    cfg = settings(mqtt_broker, sqlite_url)
    for i in range(ITERATIONS):
        assert await run_and_stop(cfg, random.uniform(0, 0.03)) < EXIT_S, f"iteration {i}"


async def test_cancel_as_the_connack_arrives_ends_the_bridge(
    mqtt_broker: Broker, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic: the bridge task is cancelled (once) by a callback on aiomqtt's
    CONNACK future, inside the window where 3.11's wait_for swallows it. The bridge
    must end by itself, without the repeated cancel of the app's shutdown."""
    tasks: list[asyncio.Task[Any]] = []
    picked = asyncio.Event()
    make_client = MqttBridge._make_client

    def cancelling_client(self: MqttBridge) -> aiomqtt.Client:
        client = make_client(self)
        task = asyncio.current_task()
        assert task is not None
        if not tasks:  # only the first connection
            tasks.append(task)
            picked.set()
            client._connected.add_done_callback(lambda _f: task.cancel())
        return client

    monkeypatch.setattr(MqttBridge, "_make_client", cancelling_client)
    for i in range(ITERATIONS):
        tasks.clear()
        picked.clear()
        async with CsmsApp(settings(mqtt_broker, sqlite_url), clock()):
            await asyncio.wait_for(picked.wait(), 5)
            done, _ = await asyncio.wait(tasks, timeout=2.0)
            assert done, f"iteration {i}: the cancelled bridge kept running"
            assert tasks[0].cancelled()
