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
        x_rep, obj = self._repair(h, model, prob, x_lp, deadline)
        gap = _gap(obj, lower_bound)
        if gap <= cfg.mip_gap:
            return x_rep, gap, "optimal", f"LP relaxation + repair, gap {gap:.4%}"
        return self._mip(model, prob, x_rep, lower_bound, deadline, "MIP warm-started from repair")

    def _repair(
        self, h: highspy.Highs, model: Model, prob: Problem, x_lp: np.ndarray, deadline: float
    ) -> tuple[np.ndarray, float]:
        """Two repaired LPs; the cheaper wins. A: drop every flow below the floor and let
        the vehicle's other cells absorb it. B: for vehicles A left shorter than the LP,
        switch on more of their cells at the floor (where A's load leaves room under the
        LP's demand peaks, cheapest first), up to the energy they lack."""
        if "z" in model.cols:  # import or export per interval, whichever the LP leaned to
            z = model.cols["z"]
            importing = (x_lp[model.cols["imp"]] >= x_lp[model.cols["exp"]]).astype(float)
            h.changeColsBounds(len(z), z, importing, importing)
        s_cols = model.cols["s"]
        best: tuple[np.ndarray, float] | None = None
        need = np.zeros(prob.n_vehicles)
        for stage in ("A", "B"):
            if stage == "B":
                if best is None:
                    break
                need = np.clip(best[0][s_cols] - x_lp[s_cols], 0.0, None)
                if not (need > 1e-6).any():
                    break
            base: np.ndarray | None = best[0] if best is not None else None
            self._fix_on(h, model, prob, repair_on(model, prob, x_lp, need, base))
            status = _run(h, deadline - time.perf_counter())
            if status != MS.kOptimal:
                continue
            obj = h.getInfo().objective_function_value
            if best is None or obj < best[1]:
                best = (np.array(h.getSolution().col_value), obj)
        if best is None:
            raise SolverFailed("repaired LP: no solution")
        return best

    @staticmethod
    def _fix_on(h: highspy.Highs, model: Model, prob: Problem, on: np.ndarray) -> None:
        idx = np.nonzero(model.semi)[0]
        lo = np.where(on, prob.min_power_kw, 0.0)
        hi = np.where(on, model.upper[idx], 0.0)
        h.changeColsBounds(len(idx), idx, lo, hi)

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


def repair_on(
    model: Model, prob: Problem, x_lp: np.ndarray, need_kwh: np.ndarray, x_base: np.ndarray | None
) -> np.ndarray:
    """Which p columns may run (at or above the floor) in a repaired LP.

    Cells the LP ran at or above the floor stay on. For each vehicle with
    ``need_kwh`` > 0, more of its cells are switched on until the floor in them
    covers the need (never past the energy it is owed): first cells where the site
    load of ``x_base`` leaves room under the LP's demand peaks and the import limit
    (those the LP used most first, then cheapest energy), then the rest.
    """
    floor = prob.min_power_kw
    idx = np.nonzero(model.semi)[0]
    on = x_lp[idx] >= floor - 1e-6
    need = need_kwh.copy()
    if x_base is None or not (need > 1e-6).any():
        return on
    pi = model.p_index
    vi, ti = np.nonzero(pi >= 0)
    col = pi[vi, ti] - idx[0]  # p columns are the first, contiguous block
    e = prob.hours[ti] * prob.frac[vi, ti]
    at_floor = np.bincount(vi[on[col]], weights=floor * e[on[col]], minlength=prob.n_vehicles)
    grid = x_base[model.cols["imp"]] + x_base[model.cols["over"]]
    ceiling = np.full(prob.n_intervals, prob.import_limit_kw)
    for k, term in enumerate(prob.demand):
        peak_kw = x_lp[model.cols["D"][k]]
        ceiling[term.mask] = np.minimum(ceiling[term.mask], peak_kw)
    room = ceiling - grid
    for v in np.nonzero(need > 1e-6)[0]:
        cells = np.nonzero((vi == v) & ~on[col])[0]
        fits = room[ti[cells]] >= floor - 1e-9
        lp_kw = x_lp[idx][col[cells]]
        order = cells[np.lexsort((-room[ti[cells]], prob.price[ti[cells]], -lp_kw, ~fits))]
        for k in order:
            if need[v] <= 1e-6:
                break
            if at_floor[v] + floor * e[k] > prob.energy_kwh[v] + 1e-9:
                continue
            on[col[k]] = True
            need[v] -= floor * e[k]
            at_floor[v] += floor * e[k]
            room[ti[k]] -= floor
    return on


def _gap(upper: float, lower: float) -> float:
    if not np.isfinite(lower):
        return float("inf")
    return max(0.0, upper - lower) / max(abs(upper), 1e-9)
