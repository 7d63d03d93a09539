"""The demo's brokers: mosquitto, and the embedded amqtt fallback (a real MQTT round trip)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import aiomqtt
import pytest

from simulators.demo.broker import BrokerError, RunningBroker, amqtt_dir, start_broker

pytestmark = pytest.mark.mqtt


async def round_trip(broker: RunningBroker) -> None:
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.publish("evsite/v1/test/state", b"retained", qos=1, retain=True)
        await client.subscribe("evsite/v1/test/#", qos=1)

        async def first() -> bytes:
            async for message in client.messages:
                return bytes(message.payload)  # type: ignore[arg-type]
            raise AssertionError("no message")

        assert await asyncio.wait_for(first(), 10) == b"retained"


async def test_mosquitto_broker(tmp_path: Path) -> None:
    log = io.StringIO()
    broker = await asyncio.to_thread(start_broker, tmp_path, "mosquitto", log)
    try:
        assert broker.kind == "mosquitto"
        assert "mosquitto" in broker.description
        await round_trip(broker)
    finally:
        broker.stop()
    assert broker.process.poll() is not None


@pytest.mark.slow
async def test_amqtt_broker_fallback(tmp_path: Path) -> None:
    """Installs amqtt into its own directory on first use (from PyPI), then runs it."""
    log = io.StringIO()
    try:
        broker = await asyncio.to_thread(start_broker, tmp_path, "amqtt", log)
    except BrokerError as exc:
        if not (amqtt_dir() / "amqtt").is_dir() and "could not install" in str(exc):
            pytest.skip(f"amqtt cannot be installed here: {exc}")
        raise
    try:
        assert broker.kind == "amqtt"
        assert "embedded amqtt broker" in broker.description
        assert "MQTT 3.1.1 only" in log.getvalue()  # its limits are said plainly
        await round_trip(broker)
    finally:
        broker.stop()
    # the project's own websockets is untouched by amqtt's pin
    import websockets

    assert int(websockets.__version__.split(".")[0]) >= 14
