"""A small earliest-deadline-first planner, the default dispatch when no optimizer is given.

Vehicles are served in order of departure, each as early as possible at its
maximum power, within the site import limit (base load minus PV counted).
Non-zero powers respect the floor (``min_power_kw``). It implements the
:class:`edge.planning.Planner` protocol, so siting can use it or the MILP alike.
"""

from __future__ import annotations

import time
from datetime import timedelta

from edge.planning import Plan, PlanRequest


def _series(values: object, n: int) -> list[float]:
    vals = list(values) if values else [0.0]  # type: ignore[call-overload]
    return [float(vals[min(i, len(vals) - 1)]) for i in range(n)]


class EdfPlanner:
    name = "edf"

    def plan(self, request: PlanRequest) -> Plan:
        t0 = time.perf_counter()
        dt_h = request.interval_s / 3600
        n = request.horizon_intervals or 96
        base = _series(request.base_load_forecast_kw, n)
        pv = _series(request.pv_forecast_kw, n)
        headroom = [request.import_limit_kw - base[i] + pv[i] for i in range(n)]
        power: dict[str, list[float]] = {}
        shortfall: dict[str, float] = {}
        for v in sorted(request.vehicles, key=lambda v: v.departure):
            row = [0.0] * n
            need = v.energy_needed_kwh * request.safety_factor - v.energy_delivered_kwh
            first = max(0, _index(request, v.arrival))
            last = min(n, _index(request, v.departure))
            for i in range(first, last):
                if need <= 1e-9:
                    break
                p = min(v.max_power_kw, need / dt_h, max(0.0, headroom[i]))
                if p < request.min_power_kw:
                    continue
                row[i] = p
                headroom[i] -= p
                need -= p * dt_h
            power[v.key] = row
            if need > 1e-6:
                shortfall[v.key] = need
        return Plan(
            start=request.now,
            interval_s=request.interval_s,
            power_kw=power,
            strategy=self.name,
            status="heuristic",
            shortfall_kwh=shortfall,
            solve_time_s=time.perf_counter() - t0,
        )


def _index(request: PlanRequest, ts: object) -> int:
    assert hasattr(ts, "timestamp")
    delta: timedelta = ts - request.now  # type: ignore[operator]
    return int(delta.total_seconds() // request.interval_s)
