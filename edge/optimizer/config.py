"""The ``[optimizer]`` section of the site config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from evcommon.config import Section


class OptimizerSection(Section):
    # planner name (edge.optimizer.registry.PLANNERS); "max" = every connected
    # vehicle at its maximum (same as "uncontrolled")
    strategy: str = "max"
    # $/kWh of unmet energy at departure (seed 002's trade-off weight); above the
    # marginal cost of a demand-charge peak so energy is short only when impossible
    alpha_per_kwh: float = Field(default=200.0, gt=0)
    mip_gap: float = Field(default=0.005, ge=0, le=1)  # relative gap to prove
    time_limit_s: float = Field(default=10.0, ge=0)  # per solve; PlanRequest may lower it
    backend: Literal["highspy", "pyomo"] = "highspy"  # "pyomo": reference formulation
    warm_start: bool = True  # LP relaxation, repair of flows below the floor, MIP start
    threads: int = Field(default=1, ge=1)
    # $/kWh x (1 + priority) per hour of delay: breaks ties between equal-cost plans in
    # favour of charging earlier, high-priority vehicles first (seed 002)
    tie_break_per_kwh: float = Field(default=1e-4, ge=0)
    overload_penalty_per_kwh: float = Field(default=1000.0, gt=0)  # import above the limit
