"""Site meters published through a real mosquitto and read back."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiomqtt
import pytest

from evcommon.contract import SiteMeterReading, Topics, decode
from simulators.site.baseload import BaseLoadSpec
from simulators.site.meters import SiteModel
from simulators.site.publisher import MeterPublisher
from tests.plugins.infra import Broker, _mosquitto_binary, start_mosquitto

pytestmark = pytest.mark.mqtt


def _restart_broker(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    """A new mosquitto on the same port as the one that went away."""
    conf = tmp / "m.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    return subprocess.Popen(
        [str(_mosquitto_binary()), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _wait_listening(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


async def test_meters_publish_documented_format(mqtt_broker: Broker) -> None:
    site = SiteModel(tz=ZoneInfo("UTC"), base=BaseLoadSpec(noise_pct=0.0))
    topics = Topics()
    got: dict[str, SiteMeterReading] = {}
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as sub:
        await sub.subscribe(topics.site_meter("s1", "+"))
        async with MeterPublisher(mqtt_broker.host, mqtt_broker.port, "s1") as pub:
            await pub.wait_connected()
            t0 = datetime(2026, 7, 6, 12, tzinfo=UTC)
            for i in range(3):
                a, b = t0 + timedelta(seconds=10 * i), t0 + timedelta(seconds=10 * (i + 1))
                pub.offer(site.readings(site.step(a, b, ev_kw=6.6, dcfc_kw=50.0)))
                await pub.flush()

            async def collect() -> None:
                async for msg in sub.messages:
                    meter = str(msg.topic).rsplit("/", 1)[1]
                    reading = decode(SiteMeterReading, bytes(msg.payload))  # type: ignore[arg-type]
                    got[meter] = reading
                    done_ts = t0 + timedelta(seconds=30)
                    if all(m in got and got[m].ts == done_ts for m in ("main", "dcfc")):
                        return

            await asyncio.wait_for(collect(), 5)
    assert got["dcfc"].power_kw == pytest.approx(50.0)
    assert got["dcfc"].energy_import_kwh == pytest.approx(50.0 * 30 / 3600, rel=1e-3)
    assert got["main"].power_kw > 56.6  # base load + EVs
    assert got["main"].ts.tzinfo is not None


@pytest.mark.slow
async def test_publisher_survives_broker_outage(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The simulation never blocks on the broker; it reconnects when the broker returns."""
    proc, broker = start_mosquitto(tmp_path_factory.mktemp("m"))
    site = SiteModel(tz=ZoneInfo("UTC"), base=BaseLoadSpec())
    t = datetime(2026, 7, 6, tzinfo=UTC)
    async with MeterPublisher(broker.host, broker.port, "s2") as pub:
        await pub.wait_connected()
        proc.terminate()
        proc.wait(5)
        for _ in range(20):  # offering while the broker is down does not block or grow
            pub.offer(site.readings(site.step(t, t + timedelta(seconds=10), 0.0, 0.0)))
            t += timedelta(seconds=10)
            await asyncio.sleep(0.01)
        assert len(pub._pending) <= 2
        proc2 = _restart_broker(tmp_path_factory.mktemp("m2"), broker.port)
        try:
            await _wait_listening(broker.port)
            async with aiomqtt.Client(broker.host, broker.port) as sub:
                await sub.subscribe(Topics().site_meter("s2", "main"))
                pub.offer(site.readings(site.step(t, t + timedelta(seconds=10), 0.0, 0.0)))

                async def first() -> SiteMeterReading:
                    async for msg in sub.messages:
                        return decode(SiteMeterReading, bytes(msg.payload))  # type: ignore[arg-type]
                    raise AssertionError

                reading = await asyncio.wait_for(first(), 20)
                assert reading.ts == t + timedelta(seconds=10)
        finally:
            proc2.terminate()
            proc2.wait(5)
