"""Closed-loop replay of a scenario through one planner, without the network.

Every 15 minutes: build the PlanRequest the edge daemon would build (connected
vehicles, fleet vehicles known to be arriving, perfect base-load forecast, the
DCFC's present draw, the month-to-date demand peaks), ask the planner, apply the
first interval under the floor rule (limits below 1.5 kW become 0), and let each
vehicle take at most what it still wants. The planner code is the production
code; only the MQTT/OCPP transport is left out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

from edge.optimizer.scenarios import Scenario, Session
from edge.planning import Planner, PlanRequest, VehicleRequest
from edge.tariff.model import Tariff

LOOKAHEAD = timedelta(hours=24)


@dataclass
class ReplayResult:
    strategy: str
    site_kw: list[float]  # per interval
    delivered_kwh: dict[str, float]
    requested_kwh: dict[str, float]
    build_s: list[float] = field(default_factory=list)
    solve_s: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0

    def short(self, tolerance_kwh: float = 0.05) -> dict[str, float]:
        return {
            k: self.requested_kwh[k] - d
            for k, d in self.delivered_kwh.items()
            if self.requested_kwh[k] - d > tolerance_kwh
        }


def _request(
    sc: Scenario,
    tariff: Tariff,
    step: int,
    live: list[Session],
    ahead: list[Session],
    delivered: dict[str, float],
    peaks: dict[str, float],
    time_limit_s: float | None,
) -> PlanRequest:
    now = sc.start + step * timedelta(minutes=15)
    vehicles = [
        VehicleRequest(
            key=s.key,
            group=s.group,
            arrival=s.arrival,
            departure=s.departure,
            energy_needed_kwh=s.energy_kwh,
            max_power_kw=s.max_power_kw,
            connected=s.arrival <= now,
            energy_delivered_kwh=delivered.get(s.key, 0.0),
        )
        for s in [*live, *ahead]
    ]
    return PlanRequest(
        now=now,
        timezone=sc.timezone,
        vehicles=vehicles,
        import_limit_kw=sc.import_limit_kw,
        base_load_forecast_kw=sc.base_kw[step : step + 192] or [0.0],
        dcfc_forecast_kw=[sc.dcfc_kw[step], 0.0],
        month_peak_kw=dict(peaks),
        tariff=tariff,
        windows=sc.windows,
        shed_groups=sc.shed_groups,
        time_limit_s=time_limit_s,
    )


def replay(
    sc: Scenario, planner: Planner, tariff: Tariff, *, time_limit_s: float | None = None
) -> ReplayResult:
    t_wall = time.perf_counter()
    step_h = 0.25
    sessions = sorted(sc.sessions, key=lambda s: s.arrival)
    delivered = {s.key: 0.0 for s in sessions}
    result = ReplayResult(planner.name, [], delivered, {s.key: s.energy_kwh for s in sessions})
    peaks: dict[str, float] = {}
    month = None
    for step in range(sc.n_steps):
        now = sc.start + step * timedelta(minutes=15)
        if tariff.billing_month(now) != month:
            month, peaks = tariff.billing_month(now), {}
        live = [
            s
            for s in sessions
            if s.arrival <= now < s.departure and delivered[s.key] < s.energy_kwh - 1e-9
        ]
        ahead = [s for s in sessions if s.known_ahead and now < s.arrival <= now + LOOKAHEAD]
        ev_kw = 0.0
        if live:
            req = _request(sc, tariff, step, live, ahead, delivered, peaks, time_limit_s)
            plan = planner.plan(req)
            result.build_s.append(plan.build_time_s)
            result.solve_s.append(plan.solve_time_s)
            result.statuses[plan.status] = result.statuses.get(plan.status, 0) + 1
            first = plan.first_interval_kw()
            for s in live:
                limit_kw = first.get(s.key, 0.0)
                if limit_kw < req.min_power_kw:
                    continue  # the floor rule: never a limit the car would ignore
                take = min(limit_kw, s.max_power_kw) * step_h
                take = min(take, s.energy_kwh - delivered[s.key])
                delivered[s.key] += take
                ev_kw += take / step_h
        site_kw = sc.base_kw[step] + sc.dcfc_kw[step] + ev_kw
        result.site_kw.append(site_kw)
        for charge in tariff.demand_charges(now):
            peaks[charge.name] = max(peaks.get(charge.name, 0.0), site_kw)
    result.wall_s = time.perf_counter() - t_wall
    return result
