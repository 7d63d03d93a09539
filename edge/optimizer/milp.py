"""The MILP planner: HiGHS through highspy's own API, warm-started.

Cold, the semi-continuous model at 500 vehicles x 96 intervals takes minutes.
The warm path (issue 6): solve the LP with the floor relaxed, repair flows that
fall between 0 and the floor (drop them, hold the others at or above the floor),
re-solve that LP, and if it is within the gap of the relaxation -- a valid lower
bound -- it is proven good enough; otherwise it becomes the MIP start.
"""

from __future__ import annotations

import time

import highspy
import numpy as np

from edge.optimizer.config import OptimizerSection
from edge.optimizer.formulation import Model, build_model
from edge.optimizer.greedy import fallback_plan
from edge.optimizer.problem import Problem, build_problem
from edge.optimizer.result import plan_from_solution
from edge.planning import Plan, PlanRequest

MS = highspy.HighsModelStatus
DEBUG = False


class SolverFailed(Exception):
    """HiGHS returned no usable solution."""


def _highs(model: Model, cfg: OptimizerSection, *, relaxed: bool) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", cfg.threads)
    lp = highspy.HighsLp()
    lp.num_col_ = len(model.cost)
    lp.num_row_ = len(model.row_lower)
    lp.col_cost_ = model.cost
    lower = model.lower.copy()
    if not relaxed:
        lower[model.semi] = 0.0  # semi-continuous lower bound set below
    lp.col_lower_ = lower
    lp.col_upper_ = model.upper
    lp.row_lower_ = model.row_lower
    lp.row_upper_ = model.row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = model.matrix.indptr
    lp.a_matrix_.index_ = model.matrix.indices
    lp.a_matrix_.value_ = model.matrix.data
    if not relaxed:
        kinds = np.full(lp.num_col_, highspy.HighsVarType.kContinuous)
        kinds[model.semi] = highspy.HighsVarType.kSemiContinuous
        kinds[model.binary] = highspy.HighsVarType.kInteger
        lp.integrality_ = list(kinds)
    h.passModel(lp)
    return h


def _set_floor(h: highspy.Highs, model: Model, floor_kw: float) -> None:
    """Semi-continuous p: HiGHS reads the lower bound as the 'on' minimum."""
    idx = np.nonzero(model.semi)[0]
    h.changeColsBounds(len(idx), idx, np.full(len(idx), floor_kw), model.upper[idx])


def _run(h: highspy.Highs, time_limit_s: float) -> highspy.HighsModelStatus:
    h.setOptionValue("time_limit", max(time_limit_s, 1e-3))
    h.run()
    return h.getModelStatus()


class MilpPlanner:
    name = "milp"

    def __init__(self, cfg: OptimizerSection | None = None) -> None:
        self.cfg = cfg or OptimizerSection()

    def plan(self, request: PlanRequest) -> Plan:
        limit_s = self.cfg.time_limit_s if request.time_limit_s is None else request.time_limit_s
        t0 = time.perf_counter()
        prob = build_problem(request)
        if limit_s <= 0:
            return fallback_plan(prob, request, "solver given no time")
        if prob.n_vehicles == 0 and prob.battery is None:
            return fallback_plan(prob, request, "nothing to optimise", status="optimal")
        try:
            model = build_model(prob, self.cfg)
            build_s = time.perf_counter() - t0
            x, gap, status, note = self._solve(model, prob, t0 + limit_s)
        except SolverFailed as exc:
            plan = fallback_plan(prob, request, f"MILP failed: {exc}")
            plan.build_time_s = time.perf_counter() - t0
            return plan
        plan = plan_from_solution(prob, model, x, strategy=self.name, status=status)
        plan.build_time_s = build_s
        plan.solve_time_s = time.perf_counter() - t0 - build_s
        plan.mip_gap = gap
        plan.message = "; ".join(m for m in (note, plan.message) if m)
        return plan

    def _solve(
        self, model: Model, prob: Problem, deadline: float
    ) -> tuple[np.ndarray, float | None, str, str]:
        cfg = self.cfg
        if not cfg.warm_start:
            return self._mip(model, prob, None, None, deadline, "cold MILP")
        h = _highs(model, cfg, relaxed=True)
        status = _run(h, deadline - time.perf_counter())
        if status != MS.kOptimal:
            raise SolverFailed(f"LP relaxation {h.modelStatusToString(status)}")
        lower_bound = h.getInfo().objective_function_value
        x_lp = np.array(h.getSolution().col_value)
        idx = np.nonzero(model.semi)[0]
        on = repair_on(model, prob, x_lp)
        lo = np.where(on, prob.min_power_kw, 0.0)
        hi = np.where(on, model.upper[idx], 0.0)
        h.changeColsBounds(len(idx), idx, lo, hi)
        if "z" in model.cols:  # import or export per interval, whichever the LP leaned to
            z = model.cols["z"]
            importing = (x_lp[model.cols["imp"]] >= x_lp[model.cols["exp"]]).astype(float)
            h.changeColsBounds(len(z), z, importing, importing)
        status = _run(h, deadline - time.perf_counter())
        if status != MS.kOptimal:
            raise SolverFailed(f"repaired LP {h.modelStatusToString(status)}")
        x_rep = np.array(h.getSolution().col_value)
        obj = h.getInfo().objective_function_value
        gap = _gap(obj, lower_bound)
        if DEBUG:
            print(f"lp {lower_bound:.4f} repaired {obj:.4f} gap {gap:.4%}")
        if gap <= cfg.mip_gap:
            return x_rep, gap, "optimal", f"LP relaxation + repair, gap {gap:.4%}"
        return self._mip(model, prob, x_rep, lower_bound, deadline, "MIP warm-started from repair")

    def _mip(
        self,
        model: Model,
        prob: Problem,
        start: np.ndarray | None,
        lower_bound: float | None,
        deadline: float,
        note: str,
    ) -> tuple[np.ndarray, float | None, str, str]:
        h = _highs(model, self.cfg, relaxed=False)
        _set_floor(h, model, prob.min_power_kw)
        h.setOptionValue("mip_rel_gap", self.cfg.mip_gap)
        if start is not None:
            sol = highspy.HighsSolution()
            sol.col_value = list(start)
            sol.value_valid = True
            h.setSolution(sol)
        status = _run(h, deadline - time.perf_counter())
        info = h.getInfo()
        if info.primal_solution_status != 2:  # kSolutionStatusFeasible
            if start is not None:
                gap = _gap(float(model.cost @ start), lower_bound or -np.inf)
                return start, gap, "feasible", f"{note}: {h.modelStatusToString(status)}"
            raise SolverFailed(f"MIP {h.modelStatusToString(status)}, no solution")
        x = np.array(h.getSolution().col_value)
        gap = float(info.mip_gap)
        label = "optimal" if status == MS.kOptimal else "feasible"
        return x, gap, label, f"{note}: {h.modelStatusToString(status)}, gap {gap:.4%}"


def repair_on(model: Model, prob: Problem, x_lp: np.ndarray) -> np.ndarray:
    """Which p columns may run (at or above the floor) in the repaired LP.

    Cells at or above the floor stay on. A vehicle's flows below the floor add up
    to some energy; that energy moves into as few of those cells as can carry it
    at the floor (largest flows first), and the rest are switched off.
    """
    floor = prob.min_power_kw
    idx = np.nonzero(model.semi)[0]
    on = x_lp[idx] >= floor - 1e-6
    pi = model.p_index
    vi, ti = np.nonzero(pi >= 0)
    col = pi[vi, ti] - idx[0]  # p columns are the first, contiguous block
    flow = x_lp[idx][col]
    small = (flow > 1e-6) & ~on[col]
    if not small.any():
        return on
    e = prob.hours[ti] * prob.frac[vi, ti]
    need = np.bincount(vi[small], weights=(flow * e)[small], minlength=prob.n_vehicles)
    for k in np.lexsort((-flow, vi)):  # per vehicle, largest flows first
        v = vi[k]
        if small[k] and need[v] > 1e-6:
            on[col[k]] = True
            need[v] -= floor * e[k]
    return on


def _gap(upper: float, lower: float) -> float:
    if not np.isfinite(lower):
        return float("inf")
    return max(0.0, upper - lower) / max(abs(upper), 1e-9)
