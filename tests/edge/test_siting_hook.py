"""[siting] enabled: the daemon hands arrival requests to the siting service, which
publishes an assignment to one of the site's configured stations (real mosquitto)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from edge.config import load_site_config
from edge.daemon.app import EdgeApp
from evcommon.clock import ManualClock
from evcommon.contract import ArrivalRequest, Assignment, Topics, decode, encode
from tests.plugins.edge import running_edge

pytestmark = pytest.mark.mqtt
GARAGE = Path(__file__).parents[2] / "edge" / "sites" / "reference-garage.toml"
NOW = datetime(2026, 7, 6, 16, 0, tzinfo=UTC)


async def test_arrival_request_gets_an_assignment(mqtt_broker) -> None:
    cfg = load_site_config(
        GARAGE,
        overrides={
            "mqtt": {"host": mqtt_broker.host, "port": mqtt_broker.port},
            "metrics": {"enabled": False},
            "siting": {"enabled": True, "planner": "edf"},
        },
    )
    topics = Topics(cfg.mqtt.topic_prefix)
    app = EdgeApp(cfg, ManualClock(NOW))
    async with (
        aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client,
        running_edge(app),
    ):
        await client.subscribe(topics.assignments("reference-garage"), qos=1)
        request = ArrivalRequest(
            vehicle_id="EV-42",
            arrival=NOW,
            departure=NOW + timedelta(hours=8),
            energy_kwh=20.0,
            site_id="reference-garage",
        )
        await client.publish(topics.arrivals("reference-garage"), encode(request), qos=1)
        async with asyncio.timeout(30):
            async for message in client.messages:
                got = decode(Assignment, bytes(message.payload))  # type: ignore[arg-type]
                break
    assert got.vehicle_id == "EV-42"
    assert got.station_id in cfg.station_ids()
