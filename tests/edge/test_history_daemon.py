"""The daemon builds its base-load forecast from the meter history it records, and
keeps it across a restart (real mosquitto, ManualClock, a recording planner)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from edge.daemon.app import EdgeApp
from edge.planners import MaxPlanner
from edge.planning import Plan, PlanRequest
from evcommon.clock import ManualClock
from tests.edge.test_daemon import SITE, config, until
from tests.plugins.edge import ContractPeer, running_edge

pytestmark = pytest.mark.mqtt
LA = ZoneInfo("America/Los_Angeles")
MONDAY = datetime(2026, 7, 6, 0, 0, tzinfo=LA).astimezone(UTC)
STEP_H = 3  # one reading and one tick every 3 h: 57 MQTT round trips for the week


class RecordingPlanner:
    """The "max" plan, keeping the last request the daemon built."""

    name = "recording"

    def __init__(self) -> None:
        self.last: PlanRequest | None = None

    def plan(self, request: PlanRequest) -> Plan:
        self.last = request
        return MaxPlanner().plan(request)


def main_kw(at: datetime) -> float:
    """A base load that differs by weekday and hour (local)."""
    t = at.astimezone(LA)
    return 10.0 + 3.0 * t.weekday() + 0.5 * t.hour


async def read_main(app: EdgeApp, peer: ContractPeer, kw: float, at: datetime) -> None:
    await peer.meter(SITE, "main", kw, at)
    await until(lambda: (r := app.state.meters.get("main")) is not None and r.value_kw == kw)


async def tick_once(app: EdgeApp, clock: ManualClock, seconds: float) -> None:
    """Advance the clock to the next tick and wait until the daemon has run it."""
    ticked = asyncio.Event()
    app.controller.on_tick.append(lambda _outcome: ticked.set())
    try:
        await clock.advance(seconds)
        await asyncio.wait_for(ticked.wait(), 5.0)
    finally:
        app.controller.on_tick.pop()


@pytest.mark.slow
async def test_a_week_of_main_meter_readings_becomes_the_same_weekday_forecast(
    mqtt_broker, contract_peer, tmp_path: Path
) -> None:
    # a reading and a tick every STEP_H hours (stations stay offline: no commands) keep
    # this quick; each reading is in the cache before the tick at its hour samples it
    cfg = config(
        mqtt_broker,
        tmp_path,
        interval_s=STEP_H * 3600,
        stale_after_s=1e7,
        state_dir=str(tmp_path / "st"),
    )
    clock = ManualClock(MONDAY - timedelta(hours=STEP_H))
    planner = RecordingPlanner()
    app = EdgeApp(cfg, clock, planner=planner)
    async with running_edge(app):
        await contract_peer.meter(SITE, "dcfc", 0.0, clock.now())
        for hour in range(0, 24 * 7 + 1, STEP_H):
            at = MONDAY + timedelta(hours=hour)
            await read_main(app, contract_peer, main_kw(at), clock.now())
            await tick_once(app, clock, STEP_H * 3600)
        # the state-writer task keeps the file current while the daemon runs
        path = tmp_path / "st" / f"edge-{SITE}.json"
        last = (MONDAY + timedelta(weeks=1)).timestamp()
        await until(
            lambda: (
                path.exists() and orjson.loads(path.read_bytes())["history"]["main"][-1][0] == last
            )
        )
        now = clock.now()
        assert now == MONDAY + timedelta(weeks=1)
        req = planner.last
        assert req is not None and req.now == now
        base = req.base_load_forecast_kw
        assert len(base) == 192
        # interval 0: the present base load as the site-limit rule sees it (the highest
        # estimate of the last control interval, which here includes Sunday's last tick)
        assert base[0] == max(main_kw(now), main_kw(now - timedelta(hours=STEP_H)))
        for hour in range(STEP_H, 48, STEP_H):  # Monday, then Tuesday, from last week's
            at = now + timedelta(hours=hour)
            assert base[4 * hour] == pytest.approx(main_kw(at)), hour
        assert base[4 * 27] != base[4 * 3]  # Tuesday 03:00 is not Monday 03:00
    # the state file outlives the daemon: a new one plans with last week at once
    planner2 = RecordingPlanner()
    app2 = EdgeApp(cfg, clock, planner=planner2)
    async with running_edge(app2):
        await read_main(app2, contract_peer, 99.0, clock.now())
        app2.controller.request_tick("test")
        await until(
            lambda: planner2.last is not None and planner2.last.base_load_forecast_kw[0] == 99.0
        )
        assert planner2.last is not None
        restored = planner2.last.base_load_forecast_kw
        assert restored[4 * 30] == pytest.approx(main_kw(clock.now() + timedelta(hours=30)))
        assert restored[4 * 30] != restored[4 * 6]
