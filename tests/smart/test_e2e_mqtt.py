"""End to end: edge-side MQTT commands -> CSMS (port 0) -> SimStation (both versions)
-> simulated vehicle -> meter values back on the meter topic. Real mosquitto."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from csms.app import CsmsApp
from csms.db.models import Station
from csms.smart.electrical import SAMPLES_TO_CHANGE
from evcommon import contract
from evcommon.clock import SimClock
from simulators.chargepoint.config import Quirks, StationConfig
from simulators.chargepoint.station import SimStation
from simulators.vehicle import Vehicle, VehicleSpec
from tests.plugins.smart import ContractProbe, contract_probe, run_csms

pytestmark = pytest.mark.mqtt
VERSIONS = ["1.6", "2.0.1"]
SPEED = 120.0  # simulated seconds per real second
METER_S = 60.0  # meter interval, simulated: 0.5 s real


@asynccontextmanager
async def site(
    broker: Any, db_url: str, version: str, quirks: Quirks | None = None, **sections: Any
) -> AsyncIterator[tuple[CsmsApp, SimStation, ContractProbe, SimClock]]:
    clock = SimClock(datetime(2026, 7, 1, 8, tzinfo=UTC), speed=SPEED)
    cfg = StationConfig(
        station_id="CP1",
        ocpp_version=version,
        preset="L2",
        meter_interval_s=METER_S,
        quirks=quirks or Quirks(),
    )
    async with (
        contract_probe(broker) as probe,
        run_csms(broker, db_url, clock, **sections) as app,
        SimStation(cfg, app.url, clock) as station,
    ):
        await station.wait_accepted()
        yield app, station, probe, clock


async def charging(station: SimStation, probe: ContractProbe) -> None:
    """Plug in a 7.2 kW vehicle and wait until the meter topic shows 6.6 kW in enough
    samples for the CSMS to learn the phase count (it ignores a single sample)."""
    ev = Vehicle("EV1", VehicleSpec(ac_max_kw=7.2), arrival_soc_pct=20)
    assert await station.plug_in(1, ev)
    meter = probe.topics.connector_meter("CP1", 1)
    for _ in range(SAMPLES_TO_CHANGE):
        await probe.wait_for(
            lambda t, d: t == meter and d.get("power_kw", 0) > 6.0,
            after=len(probe.messages),
            timeout_s=3 * METER_S / SPEED + 2,
        )


async def next_meter_kw(probe: ContractProbe, after: int) -> float:
    meter = probe.topics.connector_meter("CP1", 1)
    _, data = await probe.wait_for(
        lambda t, d: t == meter and "power_kw" in d, after=after, timeout_s=3 * METER_S / SPEED + 2
    )
    return float(data["power_kw"])


def set_limit(clock: SimClock, **kw: Any) -> contract.SetLimit:
    fields: dict[str, Any] = dict(
        correlation_id="c-1",
        station_id="CP1",
        connector_id=1,
        purpose="tx_default",
        limit_kw=3.3,
        valid_to=clock.now() + timedelta(hours=1),
    )
    fields.update(kw)
    return contract.SetLimit(**fields)


@pytest.mark.parametrize("version", VERSIONS)
async def test_limit_via_mqtt_reaches_the_vehicle(mqtt_broker, sqlite_url, version) -> None:
    async with site(mqtt_broker, sqlite_url, version) as (_app, station, probe, clock):
        await charging(station, probe)
        reply = await probe.command("CP1", set_limit(clock))
        assert reply.ok, reply.error
        assert reply.data is not None and reply.data["rate_unit"] == "W"
        assert reply.data["verification"]["status"] == "ok"
        # the first meter sample after the reply is within one meter interval
        assert await next_meter_kw(probe, len(probe.messages)) == pytest.approx(3.3, abs=0.05)
        _, event = await probe.wait_for(
            lambda t, d: t == probe.topics.profiles("CP1") and d["event"] == "installed"
        )
        assert event["limit_kw"] == 3.3 and event["purpose"] == "tx_default"


@pytest.mark.parametrize("version", VERSIONS)
async def test_station_accepting_only_amperes(mqtt_broker, sqlite_url, version) -> None:
    quirks = Quirks(rate_units="A")
    async with site(mqtt_broker, sqlite_url, version, quirks) as (_app, station, probe, clock):
        await charging(station, probe)  # meter values show 240 V, 1 phase
        reply = await probe.command("CP1", set_limit(clock, purpose="tx"))
        assert reply.ok, reply.error
        data = reply.data or {}
        # 3.3 kW / (240 V x 1 phase) = 13.75 A, rounded down to 13.7 A
        assert (data["rate_unit"], data["limits"], data["phases"]) == ("A", [13.7], 1)
        assert data["purpose"] == "tx"  # inside a transaction: TxProfile
        kw = await next_meter_kw(probe, len(probe.messages))
        assert kw == pytest.approx(13.7 * 240 / 1000, abs=0.05)


async def test_valid_to_in_the_past_is_refused(mqtt_broker, sqlite_url) -> None:
    async with site(mqtt_broker, sqlite_url, "1.6") as (_app, station, probe, clock):
        cmd = set_limit(clock, valid_to=clock.now() - timedelta(minutes=1))
        reply = await probe.command("CP1", cmd)
        assert not reply.ok and reply.error is not None
        assert reply.error.code == "invalid_command"
        assert reply.error.message.startswith("valid_to: is in the past")
        assert station.limit_kw(1) == pytest.approx(6.6)  # nothing reached the station


@pytest.mark.parametrize("version", VERSIONS)
async def test_rebooted_station_gets_its_profiles_back(mqtt_broker, sqlite_url, version) -> None:
    async with site(mqtt_broker, sqlite_url, version) as (_app, station, probe, _clock):
        safe = contract.InstallSafeLimits(
            correlation_id="safe", station_id="CP1", station_max_kw=5.0, connector_default_kw=4.0
        )
        reply = await probe.command("CP1", safe)
        assert reply.ok, reply.error
        assert station.limit_kw(1) == pytest.approx(4.0)
        start = len(probe.messages)
        await station.reboot()
        assert station.store is not None
        profiles = probe.topics.profiles("CP1")
        for purpose in ("station_max", "tx_default"):
            await probe.wait_for(
                lambda t, d, p=purpose: (
                    t == profiles and d["event"] == "reinstalled" and d["purpose"] == p
                ),
                after=start,
            )
        assert station.limit_kw(1) == pytest.approx(4.0)
        assert station.limit_kw(0) == pytest.approx(5.0)


async def test_malformed_commands_get_an_error_naming_the_problem(mqtt_broker, sqlite_url) -> None:
    async with site(mqtt_broker, sqlite_url, "1.6") as (_app, _station, probe, _clock):
        reply = await probe.command("CP1", b"{not json")
        assert reply.error is not None and reply.error.code == "invalid_command"
        assert reply.error.message.startswith("payload:")
        bad = {
            "command": "set_limit",
            "correlation_id": "m-2",
            "station_id": "CP1",
            "limit_kw": "lots",
            "colour": "red",
        }
        reply = await probe.command("CP1", bad)
        assert reply.correlation_id == "m-2" and reply.error is not None
        assert "set_limit.limit_kw" in reply.error.message
        assert "set_limit.colour: unknown field" in reply.error.message
        reply = await probe.command(
            "CP1", {"command": "fly", "correlation_id": "m-3", "station_id": "CP1"}
        )
        assert reply.error is not None and "command" in reply.error.message
        # reply_to instead of MQTT 5 properties (the documented fallback)
        before = len(probe.messages)
        raw = {
            "command": "reset",
            "correlation_id": "m-4",
            "station_id": "CP1",
            "kind": "warm",
            "reply_to": probe.reply_topic,
        }
        await probe.send("CP1", raw, mqtt5=False)
        _, data = await probe.wait_for(
            lambda t, d: t == probe.reply_topic and d.get("correlation_id") == "m-4", after=before
        )
        assert data["ok"] is False and "reset.kind" in data["error"]["message"]
        # the bridge is still serving
        ok = await probe.command(
            "CP1",
            {
                "command": "trigger_message",
                "correlation_id": "m-5",
                "station_id": "CP1",
                "message": "Heartbeat",
            },
        )
        assert ok.ok, ok.error


async def test_unknown_and_offline_stations_fail_at_once(mqtt_broker, sqlite_url) -> None:
    clock = SimClock(datetime(2026, 7, 1, tzinfo=UTC), speed=SPEED)
    async with (
        contract_probe(mqtt_broker) as probe,
        run_csms(mqtt_broker, sqlite_url, clock, security={"allow_unknown_stations": False}) as app,
    ):
        async with app.database.session() as s, s.begin():
            s.add(Station(station_id="CP-OFF", registry_status="Accepted"))
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        reply = await probe.command("NOPE", set_limit(clock, station_id="NOPE"))
        assert reply.error is not None and reply.error.code == "unknown_station"
        cmd = set_limit(clock, station_id="CP-OFF", correlation_id="c-2")
        reply = await probe.command("CP-OFF", cmd)
        assert reply.error is not None and reply.error.code == "station_offline"
        assert loop.time() - t0 < 2.0


@pytest.mark.parametrize("version", VERSIONS)
async def test_core_commands_via_mqtt(mqtt_broker, sqlite_url, version) -> None:
    async with site(mqtt_broker, sqlite_url, version) as (_app, station, probe, _clock):
        await charging(station, probe)
        _, started = await probe.wait_for(
            lambda t, d: t == probe.topics.transactions("CP1") and d["event"] == "started"
        )
        tx_id = started["transaction_id"]
        stop = {
            "command": "remote_stop",
            "correlation_id": "s1",
            "station_id": "CP1",
            "transaction_id": tx_id,
        }
        reply = await probe.command("CP1", stop)
        assert reply.ok and reply.data == {"status": "Accepted"}, reply
        await probe.wait_for(
            lambda t, d: (
                t == probe.topics.transactions("CP1")
                and d["event"] == "ended"
                and d["transaction_id"] == tx_id
            )
        )
        # the station's refusal comes back as `rejected` with its answer
        reply = await probe.command("CP1", {**stop, "correlation_id": "s2"})
        assert reply.error is not None and reply.error.code == "rejected"
        assert "Rejected" in reply.error.message
        start = {
            "command": "remote_start",
            "correlation_id": "s3",
            "station_id": "CP1",
            "connector_id": 1,
            "id_token": "REMOTE-1",
        }
        reply = await probe.command("CP1", start)
        assert reply.ok, reply.error
        await probe.wait_for(
            lambda t, d: (
                t == probe.topics.transactions("CP1")
                and d["event"] == "started"
                and d.get("id_token") == "REMOTE-1"
            )
        )
        avail = {
            "command": "change_availability",
            "correlation_id": "s4",
            "station_id": "CP1",
            "connector_id": 0,
            "available": True,
        }
        reply = await probe.command("CP1", avail)
        assert reply.ok, reply.error
        comp = await probe.command(
            "CP1",
            {
                "command": "get_composite_schedule",
                "correlation_id": "s5",
                "station_id": "CP1",
                "connector_id": 1,
                "duration_s": 600,
            },
        )
        assert comp.ok and comp.data is not None
        assert comp.data["periods"][0]["limit_kw"] == pytest.approx(6.6, abs=0.05)


async def test_csms_state_is_retained_and_goes_offline_on_shutdown(mqtt_broker, sqlite_url):
    clock = SimClock(datetime(2026, 7, 1, tzinfo=UTC), speed=SPEED)
    async with contract_probe(mqtt_broker) as probe:
        async with run_csms(mqtt_broker, sqlite_url, clock):
            await probe.wait_for(lambda t, d: t == probe.topics.csms_state and d["online"])
            mark = len(probe.messages)
        await probe.wait_for(
            lambda t, d: t == probe.topics.csms_state and d["online"] is False, after=mark
        )


async def test_station_that_never_answers_gives_timeout(mqtt_broker, sqlite_url) -> None:
    """A real OCPP 1.6 peer that boots, then ignores every CALL from the CSMS."""
    clock = SimClock(datetime(2026, 7, 1, tzinfo=UTC), speed=SPEED)
    async with (
        contract_probe(mqtt_broker) as probe,
        run_csms(mqtt_broker, sqlite_url, clock, server={"call_timeout_s": 0.3}) as app,
        connect(f"{app.url}/MUTE", subprotocols=[Subprotocol("ocpp1.6")]) as ws,
    ):
        boot = {"chargePointVendor": "x", "chargePointModel": "y"}
        await ws.send(json.dumps([2, "b1", "BootNotification", boot]))
        while json.loads(await ws.recv())[1] != "b1":
            pass
        reply = await probe.command("MUTE", set_limit(clock, station_id="MUTE"))
        assert reply.error is not None and reply.error.code == "timeout", reply
        assert "no answer" in reply.error.message


async def test_ev_charging_needs_are_retained_state(mqtt_broker, sqlite_url) -> None:
    async with site(mqtt_broker, sqlite_url, "2.0.1") as (_app, station, probe, clock):
        departure = clock.now() + timedelta(hours=4)
        ev = Vehicle(
            "EV1",
            VehicleSpec(),
            arrival_soc_pct=30,
            energy_request_kwh=12.0,
            departure_time=departure,
        )
        assert await station.plug_in(1, ev)
        needs_topic = probe.topics.ev_needs("CP1", 1)
        _, needs = await probe.wait_for(lambda t, d: t == needs_topic)
        assert needs["energy_amount_kwh"] == pytest.approx(12.0)
        assert needs["departure_time"].startswith(departure.strftime("%Y-%m-%dT%H:%M"))
    # a late subscriber (a restarting edge) gets it from the broker at once
    async with contract_probe(mqtt_broker) as late:
        await late.wait_for(lambda t, d: t == needs_topic, timeout_s=5)
        _, state = await late.wait_for(lambda t, d: t == late.topics.station_state("CP1"))
        assert state["station_id"] == "CP1"


async def test_over_limit_alarm_on_the_alarms_topic(mqtt_broker, sqlite_url) -> None:
    quirks = Quirks(ignores_limits=True)
    smart = {"over_limit_grace_s": 30}
    async with site(mqtt_broker, sqlite_url, "2.0.1", quirks, smart_charging=smart) as (
        _app,
        station,
        probe,
        clock,
    ):
        await charging(station, probe)
        reply = await probe.command("CP1", set_limit(clock))
        assert reply.ok, reply.error  # the station says Accepted ...
        _, alarm = await probe.wait_for(  # ... but keeps drawing 6.6 kW
            lambda t, d: t == probe.topics.alarms("CP1") and d["kind"] == "over_limit"
        )
        assert alarm["limit_kw"] == 3.3 and alarm["measured_kw"] == pytest.approx(6.6)
