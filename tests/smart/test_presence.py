"""Station presence on the contract: ``online`` follows every connection, not only boots,
and a CSMS start corrects what a killed CSMS left retained. Real mosquitto, our simulator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import pytest

from evcommon import contract
from evcommon.clock import SimClock
from simulators.chargepoint.config import StationConfig
from simulators.chargepoint.station import SimStation
from tests.plugins.smart import contract_probe, run_csms

pytestmark = pytest.mark.mqtt
STATE = contract.Topics().station_state("CP1")


def state_of(online: bool) -> Callable[[str, dict[str, Any]], bool]:
    return lambda t, d: t == STATE and d.get("online") is online


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_reconnect_without_boot_publishes_online(mqtt_broker, sqlite_url, version):
    clock = SimClock(datetime(2026, 7, 1, 8, tzinfo=UTC), speed=60)
    cfg = StationConfig(station_id="CP1", ocpp_version=version)
    async with (
        contract_probe(mqtt_broker) as probe,
        run_csms(mqtt_broker, sqlite_url, clock) as app,
        SimStation(cfg, app.url, clock) as station,
    ):
        await station.wait_accepted()
        i, first = await probe.wait_for(state_of(True))
        assert first["boot_status"] == "Accepted"
        await station.drop_connection()
        i, _ = await probe.wait_for(state_of(False), after=i + 1)
        await station.wait_online()
        _, again = await probe.wait_for(state_of(True), after=i + 1)
        assert station.boot_count == 1  # no BootNotification: presence came from the connection
        assert again["ocpp_version"] == version
        assert again["vendor"] == "evsite" and again["boot_status"] == "Accepted"


async def test_start_up_corrects_retained_online_of_stations_that_stay_away(
    mqtt_broker, sqlite_url
):
    clock = SimClock(datetime(2026, 7, 1, 8, tzinfo=UTC), speed=60)
    cfg = StationConfig(station_id="CP1", ocpp_version="1.6")
    async with (
        run_csms(mqtt_broker, sqlite_url, clock) as app,
        SimStation(cfg, app.url, clock) as station,
    ):
        await station.wait_accepted()
    # a CSMS killed with -9 leaves the station's retained state at online: true
    stale = contract.StationState(station_id="CP1", online=True, ocpp_version="1.6")
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
        await client.publish(STATE, contract.encode(stale), qos=1, retain=True)
    async with contract_probe(mqtt_broker) as probe:
        await probe.wait_for(state_of(True))  # the stale retained message
        async with run_csms(mqtt_broker, sqlite_url, clock):
            _, data = await probe.wait_for(state_of(False))
            assert data["ocpp_version"] == "1.6"
