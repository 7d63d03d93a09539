"""The siting service over a real mosquitto; multi-site; the ``edge site`` CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import aiomqtt
import pytest

from edge.siting.cli import main as cli_main
from edge.siting.config import SitingSection
from edge.siting.ieee13 import build_ieee13
from edge.siting.multisite import MultiSiteEngine
from edge.siting.process400 import SitingEngine
from evcommon.clock import ManualClock
from evcommon.contract import ArrivalRequest, Assignment, Topics, decode, encode
from tests.plugins.infra import Broker
from tests.siting.helpers import NOW, arrival, slow

TOPICS = Topics()


def request(vehicle_id: str, hours: float = 8, **kw: object) -> bytes:
    return encode(
        ArrivalRequest(
            vehicle_id=vehicle_id,
            arrival=NOW,
            departure=NOW + timedelta(hours=hours),
            **({"energy_kwh": 60.0} | kw),  # type: ignore[arg-type]
        )
    )


@asynccontextmanager
async def mqtt(
    broker: Broker, topic: str
) -> AsyncIterator[tuple[aiomqtt.Client, asyncio.Queue[Assignment]]]:
    got: asyncio.Queue[Assignment] = asyncio.Queue()
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(topic)

        async def reader() -> None:
            async for msg in client.messages:
                await got.put(decode(Assignment, bytes(msg.payload)))  # type: ignore[arg-type]

        task = asyncio.create_task(reader())
        try:
            yield client, got
        finally:
            task.cancel()


@pytest.mark.mqtt
async def test_assignment_is_published_through_mosquitto(mqtt_broker: Broker) -> None:
    from edge.siting.service import SitingService

    site = build_ieee13(chargers=[slow("633"), slow("652")], site_id="depot")
    clock = ManualClock(NOW)
    async with mqtt(mqtt_broker, TOPICS.assignments("depot")) as (client, got):

        async def publish(topic: str, payload: bytes) -> None:
            await client.publish(topic, payload, qos=1)

        cfg = SitingSection(planner="edf")
        async with SitingService(cfg, site, clock, publish) as service:
            await service.handle_arrival(request("bus-1"))
            await service.handle_arrival(b'{"vehicle_id": "x"}')  # no times: counted, ignored
            await service.handle_arrival(request("bus-2", energy_kwh=None))  # no energy
            a = await asyncio.wait_for(got.get(), 10)
        assert (a.site_id, a.vehicle_id, a.station_id, a.connector_id) == (
            "depot",
            "bus-1",
            "633-s",
            1,
        )
        assert a.node == "633" and a.method == "process400"
        assert a.window_start == NOW and a.window_end == NOW + timedelta(hours=7, minutes=45)
        assert service.rejected == 2 and got.empty()


@pytest.mark.mqtt
async def test_batch_mode_sites_every_15_minutes(mqtt_broker: Broker) -> None:
    from edge.siting.service import SitingService

    site = build_ieee13(chargers=[slow("633"), slow("652")], site_id="depot")
    clock = ManualClock(NOW)
    async with mqtt(mqtt_broker, TOPICS.assignments("depot")) as (client, got):

        async def publish(topic: str, payload: bytes) -> None:
            await client.publish(topic, payload, qos=1)

        cfg = SitingSection(planner="edf", batch=True)
        async with SitingService(cfg, site, clock, publish) as service:
            await service.handle_arrival(request("late", hours=10))
            await service.handle_arrival(request("early", hours=3))
            assert service.pending and got.empty()
            await clock.advance(900)
            first = await asyncio.wait_for(got.get(), 10)
            second = await asyncio.wait_for(got.get(), 10)
    # earliest departure first, and it gets the better node
    assert (first.vehicle_id, first.node) == ("early", "633")
    assert (second.vehicle_id, second.node) == ("late", "652")


def _two_sites() -> MultiSiteEngine:
    loaded = build_ieee13(load_scale=2.6, chargers=[slow("671"), slow("675")], site_id="north")
    light = build_ieee13(chargers=[slow("671"), slow("675")], site_id="south")
    return MultiSiteEngine({"north": SitingEngine(loaded), "south": SitingEngine(light)})


def test_multi_site_reroutes_away_from_under_voltage() -> None:
    engine = _two_sites()
    a = arrival("ev")
    d = engine.site_vehicle(type(a)(**{**a.__dict__, "site_id": "north"}), NOW)
    assert d.site_id == "south" and d.path == "direct"
    assert "rerouted from site north" in d.note()
    assert "ev" in engine.engines["south"].schedule.entries
    assert "ev" not in engine.engines["north"].schedule.entries


def test_multi_site_keeps_the_asked_site_when_both_are_fine() -> None:
    light_a = build_ieee13(chargers=[slow("675")], site_id="a")
    light_b = build_ieee13(chargers=[slow("632")], site_id="b")
    engine = MultiSiteEngine({"a": SitingEngine(light_a), "b": SitingEngine(light_b)})
    a = arrival("ev")
    d = engine.site_vehicle(type(a)(**{**a.__dict__, "site_id": "a"}), NOW)
    assert d.site_id == "a"


@pytest.mark.mqtt
async def test_service_over_several_sites_publishes_on_the_chosen_site(mqtt_broker: Broker) -> None:
    from edge.siting.service import SitingService

    sites = [
        build_ieee13(load_scale=2.6, chargers=[slow("671")], site_id="north"),
        build_ieee13(chargers=[slow("671")], site_id="south"),
    ]
    async with mqtt(mqtt_broker, f"{TOPICS.prefix}/sites/+/assignments") as (client, got):

        async def publish(topic: str, payload: bytes) -> None:
            await client.publish(topic, payload, qos=1)

        async with SitingService(
            SitingSection(planner="edf"), sites, ManualClock(NOW), publish
        ) as svc:
            assert svc.site_ids == ["north", "south"]
            await svc.handle_arrival(request("ev", site_id="north"))
            a = await asyncio.wait_for(got.get(), 10)
    assert a.site_id == "south"


def test_cli_decide_nodes_and_voltages(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli_main(
            [
                "decide",
                "--model",
                "ieee13",
                "--energy-kwh",
                "200",
                "--hours",
                "1.5",
                "--planner",
                "edf",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "station 632-f" in out and "fast charging needed" in out
    assert cli_main(["nodes", "--model", "garage"]) == 0
    assert "street-dcfc/1 50 kW fast" in capsys.readouterr().out
    assert cli_main(["voltages"]) == 0
    assert "| 675 | 1.0049 |" in capsys.readouterr().out


def test_cli_reads_the_reference_garage_config(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(
        [
            "decide",
            "--config",
            "edge/sites/reference-garage.toml",
            "--energy-kwh",
            "20",
            "--hours",
            "8",
            "--planner",
            "edf",
        ]
    )
    assert code == 0
    assert "site reference-garage station L2-" in capsys.readouterr().out


async def test_assignments_wait_while_the_broker_is_away() -> None:
    from edge.siting.service import SitingService

    sent: list[str] = []
    broker_up = False

    async def publish(topic: str, payload: bytes) -> None:
        if not broker_up:
            raise ConnectionError("not connected")
        sent.append(decode(Assignment, payload).vehicle_id)

    site = build_ieee13(chargers=[slow("633"), slow("652")], site_id="depot")
    async with SitingService(SitingSection(planner="edf"), site, ManualClock(NOW), publish) as svc:
        await svc.handle_arrival(request("first"))
        assert sent == [] and len(svc.outbox) == 1  # decided, kept, not lost
        broker_up = True
        await svc.handle_arrival(request("second"))
    assert sent == ["first", "second"] and svc.outbox == []
