"""Planner look-up: the placeholder "max" planner here, the rest from edge.optimizer.

``get_planner(name, config)`` returns a :class:`edge.planning.Planner`. Names
other than "max" come from ``edge.optimizer.registry.PLANNERS`` (a dict of
factories taking the ``[optimizer]`` section), imported only when needed so the
daemon runs without the optimizer's dependencies loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

from edge.optimizer.config import OptimizerSection
from edge.planning import Plan, Planner, PlanRequest
from evcommon.errors import ConfigError


class MaxPlanner:
    """Every connected vehicle at its maximum power; the rules act on that."""

    name = "max"

    def plan(self, request: PlanRequest) -> Plan:
        power = {v.key: [v.max_power_kw] for v in request.vehicles if v.connected}
        return Plan(
            start=request.now,
            interval_s=request.interval_s,
            power_kw=power,
            strategy=self.name,
            status="heuristic",
        )


LOCAL_PLANNERS: dict[str, Callable[[OptimizerSection], Planner]] = {
    "max": lambda _cfg: MaxPlanner(),
}


def _optimizer_planners() -> Mapping[str, Callable[[OptimizerSection], Planner]]:
    try:
        module = importlib.import_module("edge.optimizer.registry")
    except ModuleNotFoundError as exc:
        if exc.name in ("edge.optimizer.registry",):
            return {}
        raise
    return getattr(module, "PLANNERS", {})


def planner_names() -> list[str]:
    return sorted({*LOCAL_PLANNERS, *_optimizer_planners()})


def get_planner(name: str, config: OptimizerSection | None = None) -> Planner:
    """Build the planner called ``name``; ConfigError naming optimizer.strategy if unknown."""
    cfg = config or OptimizerSection()
    factory = LOCAL_PLANNERS.get(name) or _optimizer_planners().get(name)
    if factory is None:
        raise ConfigError(
            f"optimizer.strategy: unknown planner {name!r} (known: {', '.join(planner_names())})",
            keys=["optimizer.strategy"],
        )
    return factory(cfg)
