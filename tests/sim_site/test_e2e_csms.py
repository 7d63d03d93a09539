"""A short accelerated scenario end to end: SimStations on the real CSMS, meters on mosquitto."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest
from sqlalchemy import select

from csms.db.models import EvChargingNeeds, Transaction
from evcommon.clock import SimClock
from evcommon.contract import SiteMeterReading, Topics, decode
from simulators.scenario.loader import load_scenario
from simulators.scenario.runner import ScenarioRunner
from simulators.scenario.stations import OcppStations
from simulators.site.publisher import MeterPublisher
from tests.plugins.csms import MakeCsms
from tests.plugins.infra import Broker

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

SCENARIO = """\
[scenario]
name = "e2e"
site_id = "e2e-site"
timezone = "UTC"
start = 2026-07-06T10:00:00
duration_h = 1.5
[base_load]
peak_kw = 20.0
noise_pct = 0.0
[meters]
publish_interval_s = 30
[vehicle_types.ev]
capacity_kwh = 40
ac_max_kw = 6.6
dc_max_kw = 50
efficiency = 1.0
[[stations]]
id = "E2E-16"
type = "L2"
ocpp = "1.6"
[[stations]]
id = "E2E-201"
type = "L2"
ocpp = "2.0.1"
[[stations]]
id = "E2E-DC"
type = "DCFC"
ocpp = "1.6"
[[sessions]]
session_id = "a"
arrival = 2026-07-06T10:05:00
departure = 2026-07-06T11:20:00
energy_kwh = 3.3
station = "E2E-16"
vehicle = "ev"
[[sessions]]
session_id = "b"
arrival = 2026-07-06T10:10:00
departure = 2026-07-06T11:20:00
energy_kwh = 20.0
station = "E2E-201"
vehicle = "ev"
[[sessions]]
session_id = "c"
arrival = 2026-07-06T10:20:00
departure = 2026-07-06T11:20:00
energy_kwh = 10.0
station = "E2E-DC"
vehicle = "ev"
"""


async def test_scenario_on_csms_and_mosquitto(
    tmp_path: Path, make_csms: MakeCsms, mqtt_broker: Broker
) -> None:
    path = tmp_path / "e2e.toml"
    path.write_text(SCENARIO)
    plan = load_scenario(path)
    # boot "before" the scenario (origin in the future), then jump the clock to its start
    # once every station is accepted, so a slow start-up on a busy machine costs no
    # simulated time; the runner plays from plan.start
    clock = SimClock(plan.start, speed=600.0, origin=time.time() + 60)
    app = await make_csms(clock=clock, security={"accept_all_id_tags": True})
    readings: list[SiteMeterReading] = []

    async def collect(sub: aiomqtt.Client) -> None:
        async for msg in sub.messages:
            readings.append(decode(SiteMeterReading, bytes(msg.payload)))  # type: ignore[arg-type]

    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as sub:
        await sub.subscribe(Topics().site_meter("e2e-site", "main"))
        collector = asyncio.create_task(collect(sub))
        try:
            async with (
                OcppStations(plan, app.url, clock, meter_interval_s=60) as stations,
                MeterPublisher(mqtt_broker.host, mqtt_broker.port, "e2e-site") as pub,
            ):
                await stations.wait_accepted(20)
                clock.origin = time.time()
                runner = ScenarioRunner(
                    plan, clock, stations, publisher=pub, clock_spec=clock.spec()
                )
                out = await asyncio.wait_for(runner.run(), 30)
                for st in stations.stations.values():
                    await st.flush(10)
        finally:
            collector.cancel()

    # nothing given up after CALLERRORs, nothing left in a queue at shutdown
    assert {d["dropped"] + d["undelivered"] for d in stations.delivery().values()} == {0}
    by_id = {s.session_id: s for s in out.sessions}
    assert by_id["a"].energy_delivered_kwh == pytest.approx(3.3, rel=1e-3)  # request met
    assert 3.0 < by_id["b"].energy_delivered_kwh < 8.0  # 6.6 kW for at most 70 minutes
    # DC at 50 kW: 12 minutes of a 60-minute stay (slack for a busy CSMS)
    assert by_id["c"].energy_delivered_kwh == pytest.approx(10.0, rel=1e-3)

    # the CSMS stored every transaction, started and ended, with the energy we delivered
    async with app.database.session() as s:
        txs = (await s.execute(select(Transaction))).scalars().all()
    assert sorted(t.station_id for t in txs) == ["E2E-16", "E2E-201", "E2E-DC"]
    for t in txs:
        assert t.ended_at is not None
        rec = next(r for r in out.sessions if r.station_id == t.station_id)
        if t.meter_stop_wh is not None and t.meter_start_wh is not None:
            got_kwh = (t.meter_stop_wh - t.meter_start_wh) / 1000
            assert got_kwh == pytest.approx(rec.energy_delivered_kwh, abs=0.05)

    # the 2.0.1 station passed the vehicle's departure time and energy request on
    # (NotifyEVChargingNeeds)
    async with app.database.session() as s:
        needs = (await s.execute(select(EvChargingNeeds))).scalars().all()
    assert [n.station_id for n in needs] == ["E2E-201"]
    assert needs[0].departure_time == datetime(2026, 7, 6, 11, 20, tzinfo=UTC)
    assert needs[0].energy_amount_wh == pytest.approx(20000.0)

    # the main meter went over MQTT with simulated timestamps and saw the DCFC session
    assert readings, "no meter readings arrived"
    assert all(plan.start <= r.ts <= plan.end + timedelta(minutes=1) for r in readings)
    assert max(r.power_kw for r in readings) > 20.0 + 40.0
    assert min(r.ts for r in readings) < datetime(2026, 7, 6, 10, 30, tzinfo=UTC)
