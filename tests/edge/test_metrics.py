"""Planner and site-limit metrics of the control tick (the daemon built, ticked directly).

No broker is needed: the tick only reads cached readings, and the limits it cannot
publish while unconnected are skipped (logged) by design.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

from edge.config import EdgeConfig, load_site_config
from edge.daemon.app import EdgeApp
from edge.planners import MaxPlanner
from edge.planning import Plan, PlanRequest
from evcommon.clock import ManualClock
from tests.plugins.edge import small_site_toml

NIGHT = datetime(2026, 7, 2, 7, 0, tzinfo=UTC)


def _config(tmp_path: Path, **site: float) -> EdgeConfig:
    path = tmp_path / "site.toml"
    path.write_text(small_site_toml("127.0.0.1", 9))  # never connected
    return load_site_config(path, overrides={"site": site} if site else None)


class BrokenPlanner:
    name = "milp"

    def plan(self, request: PlanRequest) -> Plan:
        raise RuntimeError("solver crashed")


class FeasiblePlanner(MaxPlanner):
    name = "milp"

    def plan(self, request: PlanRequest) -> Plan:
        plan = super().plan(request)
        plan.status = "feasible"
        return plan


def _value(app: EdgeApp, name: str, **labels: str) -> float | None:
    return app.metrics.value(name, labels)


async def test_import_limit_base_load_and_max_planner_status(tmp_path: Path) -> None:
    clock = ManualClock(NIGHT)
    app = EdgeApp(_config(tmp_path, import_limit_kw=75, import_margin_kw=5), clock)
    assert _value(app, "edge_site_import_limit_kw") == 75  # from start-up, before a tick
    assert _value(app, "edge_plan_status_total", strategy="max", status="heuristic") == 0
    app.controller.on_meter("main", 23.5, clock.now())
    app.controller.on_meter("dcfc", 4.0, clock.now())
    await app.controller.tick("test")
    assert _value(app, "edge_base_power_kw") == 23.5  # main - EV (no vehicle charging)
    # the rule's budget is the limit less margin less exactly that load
    assert _value(app, "edge_ev_budget_kw") == 75 - 5 - 23.5
    await app.controller.tick("test")
    assert _value(app, "edge_plan_status_total", strategy="max", status="heuristic") == 2
    assert _value(app, "edge_plan_status_total", strategy="max", status="fallback") == 0
    assert _value(app, "edge_planner_solve_seconds_count", strategy="max") == 2
    solve_s = _value(app, "edge_planner_solve_seconds_sum", strategy="max")
    tick_s = _value(app, "edge_tick_duration_seconds_sum")
    assert solve_s is not None and tick_s is not None and 0 < solve_s <= tick_s


async def test_base_load_is_a_gap_while_the_main_meter_is_stale(tmp_path: Path) -> None:
    clock = ManualClock(NIGHT)
    app = EdgeApp(_config(tmp_path), clock)
    app.controller.on_meter("main", 30.0, clock.now())
    await app.controller.tick("test")
    assert _value(app, "edge_base_power_kw") == 30.0
    await clock.advance(app.cfg.control.stale_after_s + 60)
    await app.controller.tick("test")
    assert _value(app, "edge_meter_stale", meter="main") == 1
    base = _value(app, "edge_base_power_kw")
    assert base is not None and math.isnan(base)


async def test_planner_failure_counts_as_fallback(tmp_path: Path) -> None:
    clock = ManualClock(NIGHT)
    app = EdgeApp(_config(tmp_path), clock, planner=BrokenPlanner())
    app.controller.on_meter("main", 10.0, clock.now())
    await app.controller.tick("test")
    assert _value(app, "edge_plan_status_total", strategy="milp", status="fallback") == 1
    assert _value(app, "edge_plan_status_total", strategy="milp", status="heuristic") == 0
    assert _value(app, "edge_planner_failures_total") == 1
    assert _value(app, "edge_planner_solve_seconds_count", strategy="milp") == 1


async def test_plan_status_comes_from_the_plan(tmp_path: Path) -> None:
    clock = ManualClock(NIGHT)
    app = EdgeApp(_config(tmp_path), clock, planner=FeasiblePlanner())
    app.controller.on_meter("main", 10.0, clock.now())
    await app.controller.tick("test")
    assert _value(app, "edge_plan_status_total", strategy="milp", status="feasible") == 1
    assert _value(app, "edge_plan_status_total", strategy="milp", status="optimal") == 0
    assert _value(app, "edge_planner_failures_total") == 0
