"""Turn a solution vector into a Plan (shared by the highspy and pyomo planners)."""

from __future__ import annotations

import numpy as np

from edge.optimizer.formulation import Model
from edge.optimizer.problem import Problem
from edge.planning import Plan

SHORT_KWH = 0.01


def clean_power(power_kw: np.ndarray, ub_kw: np.ndarray, floor_kw: float) -> np.ndarray:
    """Clip to [0, cap] and drop numerical dust below the floor: never a limit in (0, floor)."""
    power = np.clip(power_kw, 0.0, ub_kw)
    power[power < floor_kw - 1e-6] = 0.0
    return np.where(power > 0, np.maximum(power, floor_kw), 0.0)


def shortfall_message(keys: list[str], short_kwh: np.ndarray) -> dict[str, float]:
    return {k: round(float(s), 3) for k, s in zip(keys, short_kwh, strict=True) if s > SHORT_KWH}


def describe_short(short: dict[str, float]) -> str:
    if not short:
        return ""
    worst = sorted(short.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{k} {v:.2f} kWh" for k, v in worst[:5])
    more = f" and {len(worst) - 5} more" if len(worst) > 5 else ""
    return f"short at departure: {text}{more}"


def plan_from_power(
    prob: Problem,
    power: np.ndarray,
    *,
    strategy: str,
    status: str,
    grid_kw: np.ndarray | None = None,
) -> Plan:
    delivered = (power * prob.frac * prob.hours[None, :]).sum(axis=1)
    short = shortfall_message(prob.keys, prob.due_kwh - delivered)
    if grid_kw is None:
        grid_kw = prob.net_load_kw + power.sum(axis=0)
    return Plan(
        start=prob.start,
        interval_s=prob.interval_s,
        power_kw={
            k: [round(float(x), 4) for x in row] for k, row in zip(prob.keys, power, strict=True)
        },
        strategy=strategy,
        status=status,  # type: ignore[arg-type]
        message=describe_short(short),
        grid_kw=[float(g) for g in grid_kw],
        shortfall_kwh=short,
    )


def plan_from_solution(
    prob: Problem, model: Model, x: np.ndarray, *, strategy: str, status: str
) -> Plan:
    power = np.zeros(prob.ub_kw.shape)
    mask = model.p_index >= 0
    power[mask] = x[model.p_index[mask]]
    power = clean_power(power, prob.ub_kw, prob.min_power_kw)
    cols = model.cols
    grid = x[cols["imp"]] + x[cols["over"]]
    if "exp" in cols:
        grid = grid - x[cols["exp"]]
    plan = plan_from_power(prob, power, strategy=strategy, status=status, grid_kw=grid)
    if "ch" in cols:
        plan.battery_kw = [float(v) for v in x[cols["ch"]] - x[cols["dis"]]]
    if x[cols["over"]].max(initial=0.0) > 1e-6:
        plan.message = "; ".join(
            m for m in (plan.message, "site load alone exceeds the import limit") if m
        )
    return plan
