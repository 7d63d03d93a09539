"""Planners by name, built from the ``[optimizer]`` config section."""

from __future__ import annotations

from collections.abc import Callable

from edge.optimizer.config import OptimizerSection
from edge.optimizer.greedy import edf, llf, staged, uncontrolled
from edge.optimizer.milp import MilpPlanner
from edge.optimizer.pyomo_model import PyomoPlanner
from edge.planning import Planner

PLANNERS: dict[str, Callable[[OptimizerSection], Planner]] = {
    "milp": lambda cfg: PyomoPlanner(cfg) if cfg.backend == "pyomo" else MilpPlanner(cfg),
    "milp-pyomo": PyomoPlanner,
    "uncontrolled": uncontrolled,
    "max": uncontrolled,
    "staged": staged,
    "edf": edf,
    "llf": llf,
}


def build_planner(cfg: OptimizerSection) -> Planner:
    try:
        factory = PLANNERS[cfg.strategy]
    except KeyError:
        known = ", ".join(sorted(PLANNERS))
        raise ValueError(
            f"optimizer.strategy: unknown planner {cfg.strategy!r} ({known})"
        ) from None
    return factory(cfg)
