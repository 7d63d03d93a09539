"""Planners by name, built from the ``[optimizer]`` config section.

The daemon looks names up through edge.planners.get_planner (which adds its own
"max" placeholder); build_planner is the same look-up for tools and tests.
"""

from __future__ import annotations

from collections.abc import Callable

from edge.optimizer.config import OptimizerSection
from edge.optimizer.greedy import edf, llf, staged, uncontrolled
from edge.optimizer.milp import MilpPlanner
from edge.optimizer.pyomo_model import PyomoPlanner
from edge.planning import Planner
from evcommon.errors import ConfigError

PLANNERS: dict[str, Callable[[OptimizerSection], Planner]] = {
    "milp": lambda cfg: PyomoPlanner(cfg) if cfg.backend == "pyomo" else MilpPlanner(cfg),
    "milp-pyomo": PyomoPlanner,
    "uncontrolled": uncontrolled,
    "staged": staged,
    "edf": edf,
    "llf": llf,
}


def build_planner(cfg: OptimizerSection) -> Planner:
    try:
        factory = PLANNERS[cfg.strategy]
    except KeyError:
        known = ", ".join(sorted(PLANNERS))
        raise ConfigError(
            f"optimizer.strategy: unknown planner {cfg.strategy!r} ({known})",
            keys=["optimizer.strategy"],
        ) from None
    return factory(cfg)
