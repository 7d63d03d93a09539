"""Dispatcher bookkeeping (deadband, min period, refresh) and the planner registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from edge.daemon.dispatch import Dispatcher, Target
from edge.optimizer.config import OptimizerSection
from edge.planners import MaxPlanner, get_planner, planner_names
from edge.planning import PlanRequest, VehicleRequest
from evcommon.errors import ConfigError

T0 = datetime(2026, 7, 1, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_deadband_min_period_and_refresh() -> None:
    d = Dispatcher(deadband_kw=0.2, min_period_s=10, refresh_after_s=90)
    d.set_target("a", Target(6.6, "plan", "plan"))
    assert d.due_at("a", T0) == T0  # never sent
    d.record("a", 6.6, T0, at(180), ok=True)
    d.set_target("a", Target(6.5, "plan", "plan"))
    assert d.due_at("a", at(5)) is None  # inside the deadband
    d.set_target("a", Target(1.65, "shed", "shed"))
    assert d.due_at("a", at(5)) == at(10)  # changed, but the min period holds it back
    assert d.due_at("a", at(12)) == at(12)
    d.record("a", 1.65, at(12), at(192), ok=True)
    assert d.due_at("a", at(60)) is None
    assert d.due_at("a", at(102)) == at(102)  # refresh before validTo


def test_start_and_stop_always_count_and_forced_decreases() -> None:
    d = Dispatcher(deadband_kw=2.0, min_period_s=0, refresh_after_s=90)
    d.record("a", 1.5, T0, None, ok=True)
    d.set_target("a", Target(0.0, "floor", "floor"))
    assert d.changed("a")  # 1.5 -> 0 is within the deadband but stops a vehicle
    d.record("a", 6.6, T0, None, ok=True)
    d.set_target("a", Target(5.5, "site", "site_limit"))
    assert not d.changed("a") and d.effective_kw("a") == 6.6
    d.targets["a"].force = True  # the site limit needs it
    assert d.changed("a") and d.effective_kw("a") == 5.5


def test_rejected_limit_is_not_resent_until_it_changes() -> None:
    d = Dispatcher(deadband_kw=0.2, min_period_s=0, refresh_after_s=90)
    d.set_target("a", Target(6.6, "plan", "plan"))
    d.record("a", 6.6, T0, None, ok=False)
    assert d.due_at("a", at(1000)) is None
    d.set_target("a", Target(3.0, "site", "site_limit"))
    assert d.due_at("a", at(1000)) == at(1000)
    d.forget(["a"])
    assert d.due_at("a", at(1001)) == at(1001)


def request() -> PlanRequest:
    v = VehicleRequest("S/1", "public", T0, T0 + timedelta(hours=8), 20.0, 6.6)
    gone = VehicleRequest("S/2", "public", T0, T0 + timedelta(hours=8), 20.0, 6.6, connected=False)
    return PlanRequest(now=T0, timezone="UTC", vehicles=[v, gone], import_limit_kw=100)


def test_max_planner() -> None:
    plan = MaxPlanner().plan(request())
    assert plan.first_interval_kw() == {"S/1": 6.6}
    assert get_planner("max").name == "max"


def test_optimizer_planners_come_from_its_registry() -> None:
    names = planner_names()
    assert "max" in names
    registry = pytest.importorskip("edge.optimizer.registry")
    for name in registry.PLANNERS:
        assert name in names
    planner = get_planner("edf", OptimizerSection(strategy="edf"))
    plan = planner.plan(request())
    assert 1.5 <= plan.first_interval_kw()["S/1"] <= 6.6


def test_unknown_planner() -> None:
    with pytest.raises(ConfigError, match=r"optimizer\.strategy"):
        get_planner("nope")
