"""``evsim run`` as a process: prints the shared clock spec, publishes meters to mosquitto."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiomqtt
import pytest

from evcommon.clock import parse_clock
from evcommon.contract import SiteMeterReading, Topics, decode
from simulators.scenario.output import read_run_output
from tests.plugins.infra import Broker

pytestmark = pytest.mark.mqtt

SCENARIO = """\
[scenario]
name = "cli"
site_id = "cli-site"
timezone = "UTC"
start = 2026-07-06T12:00:00
duration_h = 1
latitude_deg = 48.0
longitude_deg = 2.0
[meters]
publish_interval_s = 60
[pv]
peak_kw = 30.0
cloudiness = 0.0
[battery]
capacity_kwh = 40
power_kw = 20
initial_soc_pct = 50
shave_above_kw = 60
charge_below_kw = 0
[[stations]]
id = "DC"
type = "DCFC"
[[sessions]]
arrival = 2026-07-06T12:10:00
departure = 2026-07-06T12:50:00
energy_kwh = 10
station = "DC"
"""


async def test_evsim_run_process_publishes_meters(tmp_path: Path, mqtt_broker: Broker) -> None:
    scenario = tmp_path / "cli.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "run.json"
    got: dict[str, list[SiteMeterReading]] = {}
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as sub:
        await sub.subscribe(Topics().site_meter("cli-site", "+"))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "simulators.cli", "run", str(scenario),
            "--speed", "1800", "--mqtt", f"{mqtt_broker.host}:{mqtt_broker.port}",
            "--out", str(out),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip

        async def collect() -> None:
            async for msg in sub.messages:
                meter = str(msg.topic).rsplit("/", 1)[1]
                got.setdefault(meter, []).append(
                    decode(SiteMeterReading, bytes(msg.payload))  # type: ignore[arg-type]
                )

        task = asyncio.create_task(collect())
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
        await asyncio.sleep(0.2)
        task.cancel()
    assert proc.returncode == 0, stderr.decode()
    first_line = stdout.decode().splitlines()[0]
    assert first_line.startswith("EVSITE_CLOCK=sim:start=2026-07-06T12:00:00Z,speed=1800")
    assert parse_clock(first_line.split("=", 1)[1]).speed == 1800
    assert set(got) == {"main", "dcfc", "pv", "battery"}
    # the battery shaves the DCFC peak (base ~ 30 kW + 50 kW DCFC - PV > 60 kW)
    assert min(r.power_kw for r in got["battery"]) < -5
    assert got["battery"][-1].soc_pct is not None and got["battery"][-1].soc_pct < 50
    assert max(r.power_kw for r in got["dcfc"]) == pytest.approx(50.0, rel=0.05)
    assert all(r.power_kw < -10 for r in got["pv"])  # July, solar noon: generating
    assert got["main"][-1].energy_import_kwh and got["main"][-1].energy_import_kwh > 10
    data = read_run_output(out)
    assert data["summary"]["energy_delivered_kwh"] == pytest.approx(10.0)
