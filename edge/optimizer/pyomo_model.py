"""The reference formulation in pyomo (solved by HiGHS through appsi), for small cases.

Same model as edge/optimizer/formulation.py, written the textbook way: a binary
on/off per vehicle and interval for the floor (p >= floor u, p <= cap u),
seed 002's objective (import cost - export revenue + alpha x unmet energy) plus
the LBNL demand charges with carry-over (eq. 11-14). Tests check that both agree.
"""

from __future__ import annotations

import time

import numpy as np
import pyomo.environ as pe
from pyomo.contrib.appsi.solvers import Highs as AppsiHighs

from edge.optimizer.config import OptimizerSection
from edge.optimizer.greedy import fallback_plan
from edge.optimizer.problem import Problem, build_problem
from edge.optimizer.result import clean_power, plan_from_power
from edge.planning import Plan, PlanRequest


def build_pyomo(prob: Problem, cfg: OptimizerSection) -> pe.ConcreteModel:
    m = pe.ConcreteModel()
    h = prob.hours
    mid_h = np.cumsum(h) - h / 2
    cells = [(v, t) for v, t in zip(*np.nonzero(prob.ub_kw > 0), strict=True)]
    m.C = pe.Set(initialize=[(int(v), int(t)) for v, t in cells], dimen=2)
    m.V = pe.RangeSet(0, prob.n_vehicles - 1) if prob.n_vehicles else pe.Set(initialize=[])
    m.T = pe.RangeSet(0, prob.n_intervals - 1)
    m.p = pe.Var(m.C, bounds=lambda _m, v, t: (0, prob.ub_kw[v, t]))
    m.u = pe.Var(m.C, within=pe.Binary)
    m.s = pe.Var(m.V, within=pe.NonNegativeReals)
    m.imp = pe.Var(m.T, bounds=(0, prob.import_limit_kw))
    m.over = pe.Var(m.T, within=pe.NonNegativeReals)
    m.exp = pe.Var(m.T, bounds=(0, prob.export_limit_kw))
    m.z = pe.Var(m.T, within=pe.Binary)
    m.curt = pe.Var(m.T, bounds=lambda _m, t: (0, max(prob.pv_kw[t], 0.0)))
    m.floor_lo = pe.Constraint(
        m.C, rule=lambda _m, v, t: m.p[v, t] >= prob.min_power_kw * m.u[v, t]
    )
    m.floor_hi = pe.Constraint(m.C, rule=lambda _m, v, t: m.p[v, t] <= prob.ub_kw[v, t] * m.u[v, t])
    by_v: dict[int, list[int]] = {}
    for v, t in m.C:
        by_v.setdefault(v, []).append(t)

    def delivered(v: int) -> pe.Expression:
        return sum(h[t] * prob.frac[v, t] * m.p[v, t] for t in by_v.get(v, []))

    m.owed = pe.Constraint(m.V, rule=lambda _m, v: delivered(v) + m.s[v] >= prob.due_kwh[v])
    m.cap = pe.Constraint(
        m.V,
        rule=lambda _m, v: (
            delivered(v) <= prob.energy_kwh[v] if by_v.get(v) else pe.Constraint.Skip
        ),
    )
    by_t: dict[int, list[int]] = {}
    for v, t in m.C:
        by_t.setdefault(t, []).append(v)
    battery = _battery(m, prob)
    m.balance = pe.Constraint(
        m.T,
        rule=lambda _m, t: (
            m.imp[t]
            + m.over[t]
            - m.exp[t]
            - m.curt[t]
            - battery(t)
            - sum(m.p[v, t] for v in by_t.get(t, []))
            == prob.net_load_kw[t]
        ),
    )
    big = prob.import_limit_kw
    m.only_imp = pe.Constraint(m.T, rule=lambda _m, t: m.imp[t] <= big * m.z[t])
    m.only_exp = pe.Constraint(
        m.T, rule=lambda _m, t: m.exp[t] <= prob.export_limit_kw * (1 - m.z[t])
    )
    m.K = pe.RangeSet(0, len(prob.demand) - 1) if prob.demand else pe.Set(initialize=[])
    m.D = pe.Var(m.K, bounds=lambda _m, k: (prob.demand[k].carried_kw, None))
    m.peak = pe.Constraint(
        [(k, int(t)) for k, term in enumerate(prob.demand) for t in np.nonzero(term.mask)[0]],
        rule=lambda _m, k, t: m.imp[t] + m.over[t] <= m.D[k],
    )
    energy = sum(h[t] * (prob.price[t] * m.imp[t] - prob.export_price[t] * m.exp[t]) for t in m.T)
    over = sum(cfg.overload_penalty_per_kwh * h[t] * m.over[t] for t in m.T)
    demand = sum(prob.demand[k].rate_per_kw * m.D[k] for k in m.K)
    short = sum(cfg.alpha_per_kwh * (1 + 0.1 * prob.priority[v]) * m.s[v] for v in m.V)
    tie = sum(
        cfg.tie_break_per_kwh
        * h[t]
        * prob.frac[v, t]
        * mid_h[t]
        * (1 + prob.priority[v])
        * m.p[v, t]
        for v, t in m.C
    )
    m.obj = pe.Objective(expr=energy + over + demand + short + tie + m.bat_wear, sense=pe.minimize)
    return m


def _battery(m: pe.ConcreteModel, prob: Problem):  # type: ignore[no-untyped-def]
    bat = prob.battery
    if bat is None:
        m.bat_wear = pe.Expression(expr=0.0)
        return lambda t: 0.0
    h = prob.hours
    lo, hi = bat.min_soc_pct / 100 * bat.energy_kwh, bat.max_soc_pct / 100 * bat.energy_kwh
    now = min(max(bat.soc_pct / 100 * bat.energy_kwh, lo), hi)
    m.S = pe.RangeSet(0, prob.n_intervals)
    m.ch = pe.Var(m.T, bounds=(0, bat.power_kw))
    m.dis = pe.Var(m.T, bounds=(0, bat.power_kw))
    m.soc = pe.Var(m.S, bounds=(lo, hi))
    m.soc[0].fix(now)
    m.soc[prob.n_intervals].setlb(now)
    m.soc_step = pe.Constraint(
        m.T,
        rule=lambda _m, t: (
            m.soc[t + 1] == m.soc[t] + h[t] * (bat.efficiency * m.ch[t] - m.dis[t] / bat.efficiency)
        ),
    )
    m.bat_wear = pe.Expression(expr=sum(1e-5 * h[t] * (m.ch[t] + m.dis[t]) for t in m.T))
    return lambda t: m.ch[t] - m.dis[t]


class PyomoPlanner:
    name = "milp-pyomo"

    def __init__(self, cfg: OptimizerSection | None = None) -> None:
        self.cfg = cfg or OptimizerSection()

    def plan(self, request: PlanRequest) -> Plan:
        limit_s = self.cfg.time_limit_s if request.time_limit_s is None else request.time_limit_s
        t0 = time.perf_counter()
        prob = build_problem(request)
        if limit_s <= 0:
            return fallback_plan(prob, request, "solver given no time")
        model = build_pyomo(prob, self.cfg)
        build_s = time.perf_counter() - t0
        solver = AppsiHighs()
        solver.config.time_limit = limit_s
        solver.config.mip_gap = self.cfg.mip_gap
        solver.config.load_solution = False
        result = solver.solve(model)
        cond = str(result.termination_condition)
        if result.best_feasible_objective is None:
            return fallback_plan(prob, request, f"pyomo/HiGHS: {cond}")
        result.solution_loader.load_vars()
        power = np.zeros(prob.ub_kw.shape)
        for v, t in model.C:
            power[v, t] = pe.value(model.p[v, t])
        power = clean_power(power, prob.ub_kw, prob.min_power_kw)
        grid = np.array([pe.value(model.imp[t] + model.over[t] - model.exp[t]) for t in model.T])
        optimal = "optimal" in cond.lower()
        plan = plan_from_power(
            prob,
            power,
            strategy=self.name,
            status="optimal" if optimal else "feasible",
            grid_kw=grid,
        )
        plan.build_time_s = build_s
        plan.solve_time_s = time.perf_counter() - t0 - build_s
        bound = result.best_objective_bound
        best = result.best_feasible_objective
        plan.mip_gap = abs(best - bound) / max(abs(best), 1e-9) if bound is not None else None
        return plan
