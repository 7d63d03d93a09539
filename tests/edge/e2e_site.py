"""End-to-end harness: mosquitto + CsmsApp (SQLite) + SimStations + a site meter gateway
+ the edge daemon, all on one SimClock.

The meter gateway stands for the site's real meters: every ``meter_s`` simulated
seconds it publishes ``main = base + every station's metered power`` and ``dcfc`` =
the DC fast charger's power, in the documented meter format. It records the
published main meter so tests can check the site limit.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import orjson

from csms.app import CsmsApp
from edge.config import EdgeConfig, load_site_config
from edge.daemon.app import EdgeApp
from evcommon.aio import cancel_all
from evcommon.clock import SimClock
from evcommon.contract import SiteMeterReading, Topics, encode
from simulators.chargepoint.config import StationConfig
from simulators.chargepoint.station import SimStation
from tests.plugins.edge import running_edge
from tests.plugins.smart import run_csms

SITE = "e2e"
SITE_TOML = """
[site]
id = "e2e"
timezone = "America/Los_Angeles"
import_limit_kw = {limit}

[mqtt]
host = "{host}"
port = {port}
reconnect_min_s = 0.05
reconnect_max_s = 0.5

[control]
interval_s = {interval}
stale_after_s = {stale}
min_command_period_s = 5
command_timeout_s = 5
retry_backoff_s = 0.1

[shed]
release_below_kw = 8
min_hold_s = 30

[meters.main]
[meters.dcfc]

[metrics]
enabled = false

[groups.fleet-1]
start_window = {{ opens = {open1} }}
safe_limit_kw = 1.65
[groups.fleet-2]
start_window = {{ opens = {open2} }}
safe_limit_kw = 1.65
shed = true
[groups.public]
safe_limit_kw = 3.3
[groups.dcfc]
controlled = false

[stations.F1]
connectors.1 = {{ group = "fleet-1", max_power_kw = 6.6, phases = 1 }}
[stations.F2]
connectors.1 = {{ group = "fleet-2", max_power_kw = 6.6, phases = 1 }}
[stations.P1]
connectors.1 = {{ group = "public", max_power_kw = 6.6, phases = 1 }}
[stations.P2]
connectors.1 = {{ group = "public", max_power_kw = 6.6, phases = 1 }}
[stations.DCFC-01]
connectors.1 = {{ group = "dcfc", max_power_kw = 50, phases = 3 }}
"""
STATIONS = {"F1": "1.6", "F2": "1.6", "P1": "2.0.1", "P2": "2.0.1", "DCFC-01": "1.6"}


def edge_config(
    broker: Any,
    tmp: Path,
    *,
    limit: float = 200,
    interval: float = 60,
    stale: float = 60,
    open1: str = "21:30:00",
    open2: str = "23:30:00",
) -> EdgeConfig:
    path = tmp / "e2e-site.toml"
    path.write_text(
        SITE_TOML.format(
            host=broker.host,
            port=broker.port,
            limit=limit,
            interval=interval,
            stale=stale,
            open1=open1,
            open2=open2,
        )
    )
    return load_site_config(path)


@dataclass
class MeterGateway:
    client: aiomqtt.Client
    clock: SimClock
    stations: dict[str, SimStation]
    base_kw: float
    meter_s: float
    topics: Topics = field(default_factory=Topics)
    silenced: set[str] = field(default_factory=set)
    main_history: list[tuple[datetime, float]] = field(default_factory=list)
    dcfc_history: list[tuple[datetime, float]] = field(default_factory=list)

    def readings(self) -> tuple[float, float]:
        for s in self.stations.values():
            s.advance()
        dcfc = self.stations["DCFC-01"].power_kw(1)
        ev = sum(s.power_kw(1) for sid, s in self.stations.items() if sid != "DCFC-01")
        return self.base_kw + ev + dcfc, dcfc

    async def publish_now(self) -> None:
        now = self.clock.now()
        main, dcfc = self.readings()
        self.main_history.append((now, main))
        self.dcfc_history.append((now, dcfc))
        for name, kw in (("main", main), ("dcfc", dcfc)):
            if name not in self.silenced:
                await self.client.publish(
                    self.topics.site_meter(SITE, name),
                    encode(SiteMeterReading(ts=now, power_kw=kw)),
                    qos=0,  # meters are state: the next reading supersedes a lost one
                )

    async def run(self) -> None:
        due = self.clock.now()
        while True:
            await self.publish_now()
            due += timedelta(seconds=self.meter_s)
            await self.clock.sleep_until(due)


@dataclass
class ProfileLog:
    """Every profile event the CSMS publishes: the CSMS's own record of installed limits."""

    events: list[dict[str, Any]] = field(default_factory=list)

    async def run(self, client: aiomqtt.Client) -> None:
        async for m in client.messages:
            if m.topic.matches("evsite/v1/stations/+/profiles") and isinstance(
                m.payload, bytes | bytearray
            ):
                self.events.append(orjson.loads(m.payload))


@dataclass
class E2ESite:
    clock: SimClock
    csms: CsmsApp
    stations: dict[str, SimStation]
    edge: EdgeApp
    meters: MeterGateway
    profiles: ProfileLog

    async def sim_sleep(self, seconds: float) -> None:
        await self.clock.sleep(seconds)

    async def until(self, pred: Any, sim_timeout_s: float, what: str = "") -> float:
        """Poll ``pred`` until true; returns the simulated seconds it took."""
        start = self.clock.now()
        while not pred():
            waited = (self.clock.now() - start).total_seconds()
            if waited > sim_timeout_s:
                raise AssertionError(f"not within {sim_timeout_s:g} simulated s: {what}")
            await asyncio.sleep(0.01)
        return (self.clock.now() - start).total_seconds()


@asynccontextmanager
async def e2e_site(
    broker: Any,
    db_url: str,
    cfg: EdgeConfig,
    start: datetime,
    *,
    speed: float,
    meter_s: float = 10.0,
    base_kw: float = 5.0,
    station_meter_s: float = 10.0,
    real_limit_s: float = 100.0,
) -> AsyncIterator[E2ESite]:
    clock = SimClock(start, speed=speed)
    # a hang anywhere (set-up, test body, tear-down) fails the test instead of the suite;
    # the guard also writes every task's stack to a file first
    guard = _Guard(asyncio.get_running_loop(), real_limit_s)
    try:
        async with AsyncExitStack() as stack:
            csms = await stack.enter_async_context(run_csms(broker, db_url, clock))
            client = await stack.enter_async_context(
                aiomqtt.Client(broker.host, broker.port, identifier="e2e-gateway")
            )
            await client.subscribe("evsite/v1/stations/+/profiles", qos=1)
            edge = EdgeApp(cfg, clock)
            await stack.enter_async_context(running_edge(edge))
            stations: dict[str, SimStation] = {}
            for sid, version in STATIONS.items():
                preset = "DCFC" if sid.startswith("DCFC") else "L2"
                scfg = StationConfig(
                    station_id=sid,
                    ocpp_version=version,
                    preset=preset,  # type: ignore[arg-type]
                    meter_interval_s=station_meter_s,
                )
                stations[sid] = await stack.enter_async_context(SimStation(scfg, csms.url, clock))
            for s in stations.values():
                await s.wait_accepted()
            meters = MeterGateway(client, clock, stations, base_kw, meter_s)
            profiles = ProfileLog()
            async with asyncio.TaskGroup() as tg:
                tasks = [
                    tg.create_task(meters.run(), name="meter-gateway"),
                    tg.create_task(profiles.run(client), name="profile-log"),
                ]
                try:
                    yield E2ESite(clock, csms, stations, edge, meters, profiles)
                finally:
                    await cancel_all(tasks)
    finally:
        guard.disarm()


class _Guard:
    """After ``limit_s``: dump every task's stack to a file, then cancel the test task,
    again every 2 s (a cancellation can be swallowed by 3.11's ``wait_for``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit_s: float):
        self.loop = loop
        self.task = asyncio.current_task()
        self.handle = loop.call_later(limit_s, self.fire)
        self.path = Path(tempfile.gettempdir()) / f"edge-e2e-hang-{os.getpid()}.txt"

    def fire(self) -> None:
        with self.path.open("a") as fh:
            for task in asyncio.all_tasks(self.loop):
                print(f"--- task {task.get_name()}", file=fh)
                for where in _await_chain(task.get_coro()):
                    print(f"    {where}", file=fh)
        print(f"e2e guard: test over its real-time limit, stacks in {self.path}", file=sys.stderr)
        if self.task is not None:
            self.task.cancel()
        self.handle = self.loop.call_later(2.0, self.fire)

    def disarm(self) -> None:
        self.handle.cancel()


def _await_chain(coro: Any) -> list[str]:
    """file:line of every coroutine down the chain a task is suspended in."""
    out = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            out.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return out
