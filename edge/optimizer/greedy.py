"""Baseline strategies and the fallback: forward greedy plans over the same Problem.

* uncontrolled: every vehicle at its maximum from plug-in until it has its energy.
* staged: the LBNL field rules alone (staged start windows and DCFC shed), otherwise
  maximum power; no site limit.
* edf / llf: earliest deadline / least laxity first under the site import limit and
  the floor; ties go to the higher seed-002 priority index.

A vehicle whose remaining need is below the floor for one interval is offered the
floor: the limit is a cap and the vehicle stops when full.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from edge.optimizer.config import OptimizerSection
from edge.optimizer.problem import Problem, build_problem
from edge.optimizer.result import plan_from_power
from edge.planning import Plan, PlanRequest

Order = Callable[[Problem, int, np.ndarray, np.ndarray], np.ndarray]


def _edf_order(prob: Problem, t: int, cand: np.ndarray, rem: np.ndarray) -> np.ndarray:
    return cand[np.lexsort((-prob.priority[cand], prob.departure_idx[cand]))]


def _llf_order(prob: Problem, t: int, cand: np.ndarray, rem: np.ndarray) -> np.ndarray:
    step_h = prob.interval_s / 3600.0
    laxity = (prob.departure_idx[cand] - t) * step_h - rem[cand] / np.maximum(
        prob.max_kw[cand], 1e-9
    )
    return cand[np.lexsort((-prob.priority[cand], laxity))]


def _any_order(prob: Problem, t: int, cand: np.ndarray, rem: np.ndarray) -> np.ndarray:
    return cand


def greedy_power(prob: Problem, ub_kw: np.ndarray, order: Order, *, site_limit: bool) -> np.ndarray:
    floor = prob.min_power_kw
    rem = prob.energy_kwh.copy()
    power = np.zeros(ub_kw.shape)
    for t in range(prob.n_intervals):
        cap_left = prob.import_limit_kw - prob.net_load_kw[t] if site_limit else np.inf
        cand = np.nonzero((ub_kw[:, t] > 0) & (rem > 1e-9))[0]
        for v in order(prob, t, cand, rem):
            kwh_per_kw = prob.hours[t] * prob.frac[v, t]
            want = min(ub_kw[v, t], max(rem[v] / kwh_per_kw, floor))
            if want > cap_left:
                want = cap_left if cap_left >= floor else 0.0
            if want <= 0:
                continue
            power[v, t] = want
            cap_left -= want
            rem[v] = max(0.0, rem[v] - want * kwh_per_kw)
    return power


def _uncontrolled_ub(prob: Problem) -> np.ndarray:
    return np.where(prob.frac > 0, prob.max_kw[:, None], 0.0)


def fallback_plan(
    prob: Problem, request: PlanRequest, reason: str, status: str = "fallback"
) -> Plan:
    t0 = time.perf_counter()
    power = greedy_power(prob, prob.ub_kw, _edf_order, site_limit=True)
    plan = plan_from_power(prob, power, strategy="edf", status=status)
    note = f"fallback: greedy EDF under the site limit and floor ({reason})"
    plan.message = "; ".join(
        m for m in (note if status == "fallback" else reason, plan.message) if m
    )
    plan.solve_time_s = time.perf_counter() - t0
    return plan


class GreedyPlanner:
    def __init__(self, name: str, order: Order, *, site_limit: bool, rules: bool) -> None:
        self.name = name
        self._order = order
        self._site_limit = site_limit
        self._rules = rules

    def plan(self, request: PlanRequest) -> Plan:
        t0 = time.perf_counter()
        prob = build_problem(request)
        build_s = time.perf_counter() - t0
        ub = prob.ub_kw if self._rules else _uncontrolled_ub(prob)
        power = greedy_power(prob, ub, self._order, site_limit=self._site_limit)
        plan = plan_from_power(prob, power, strategy=self.name, status="heuristic")
        plan.build_time_s = build_s
        plan.solve_time_s = time.perf_counter() - t0 - build_s
        return plan


def uncontrolled(_cfg: OptimizerSection) -> GreedyPlanner:
    return GreedyPlanner("uncontrolled", _any_order, site_limit=False, rules=False)


def staged(_cfg: OptimizerSection) -> GreedyPlanner:
    return GreedyPlanner("staged", _any_order, site_limit=False, rules=True)


def edf(_cfg: OptimizerSection) -> GreedyPlanner:
    return GreedyPlanner("edf", _edf_order, site_limit=True, rules=True)


def llf(_cfg: OptimizerSection) -> GreedyPlanner:
    return GreedyPlanner("llf", _llf_order, site_limit=True, rules=True)
