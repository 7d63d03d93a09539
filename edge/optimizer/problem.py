"""A PlanRequest turned into plain arrays that every planner shares.

Time grid: intervals of ``interval_s`` starting at ``now`` floored to the grid,
so they line up with the tariff's 15-minute demand intervals. Interval 0 is
only partly ahead of us: its weight ``hours[0]`` is the remaining fraction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from edge.optimizer.priority import priority_index
from edge.planning import BatteryState, GroupWindow, PlanRequest, VehicleRequest
from edge.rules.windows import window_state

MAX_HORIZON_H = 48.0
DEFAULT_WINDOW_CLOSES = time(8, 30)  # LBNL: fleet charging blocked 8:30-21:30
FLAT_PRICE_PER_KWH = 0.10  # used when the request carries no tariff


@dataclass
class DemandTerm:
    key: str  # demand-charge name, e.g. "peak" (the key of PlanRequest.month_peak_kw)
    month: str  # billing period, ISO date of its first day
    rate_per_kw: float
    mask: np.ndarray  # bool per interval: the charge's periods in this month
    carried_kw: float  # peak already set this month (eq. 11, AP_max,h^(d-1))


@dataclass
class Problem:
    start: datetime
    interval_s: int
    hours: np.ndarray  # (T,) interval weights in hours
    keys: list[str]
    frac: np.ndarray  # (V, T) fraction of each interval the vehicle is plugged in
    ub_kw: np.ndarray  # (V, T) power cap: max power, windows and shed applied
    max_kw: np.ndarray  # (V,) vehicle maximum
    energy_kwh: np.ndarray  # (V,) energy still owed (safety factor, capped at target SoC)
    # (V,) of which due inside the horizon: a vehicle leaving after the horizon can still
    # take max power x the time between horizon end and departure later
    due_kwh: np.ndarray
    priority: np.ndarray  # (V,) seed 002 priority index, higher first
    departure_idx: np.ndarray  # (V,) first interval at or after departure
    net_load_kw: np.ndarray  # (T,) base + DCFC - PV (before curtailment)
    base_kw: np.ndarray
    pv_kw: np.ndarray
    import_limit_kw: float
    export_limit_kw: float
    price: np.ndarray  # (T,) $/kWh import
    export_price: np.ndarray  # (T,) $/kWh export
    demand: list[DemandTerm]
    min_power_kw: float
    battery: BatteryState | None = None

    @property
    def n_vehicles(self) -> int:
        return len(self.keys)

    @property
    def n_intervals(self) -> int:
        return len(self.hours)


def _series(values: object, n: int) -> np.ndarray:
    seq = list(values)  # type: ignore[call-overload]
    if not seq:
        return np.zeros(n)
    out = np.array(seq[:n] + [seq[-1]] * max(0, n - len(seq)), dtype=float)
    return out


def floor_time(when: datetime, interval_s: int) -> datetime:
    stamp = math.floor(when.timestamp() / interval_s) * interval_s
    return datetime.fromtimestamp(stamp, tz=when.tzinfo)


def horizon_intervals(request: PlanRequest, start: datetime) -> int:
    if request.horizon_intervals:
        return request.horizon_intervals
    cap = int(MAX_HORIZON_H * 3600 // request.interval_s)
    if not request.vehicles:
        return 1
    latest = max(v.departure for v in request.vehicles)
    n = math.ceil((latest - start).total_seconds() / request.interval_s)
    return max(1, min(cap, n))


def energy_owed_kwh(v: VehicleRequest, safety_factor: float) -> float:
    """Energy still to deliver: request x safety factor, never past the target SoC."""
    owed = max(0.0, v.energy_needed_kwh * safety_factor - v.energy_delivered_kwh)
    if v.battery_kwh and v.soc_pct is not None and v.target_soc_pct is not None:
        owed = min(owed, max(0.0, (v.target_soc_pct - v.soc_pct) / 100.0 * v.battery_kwh))
    return owed


def window_mask(starts: list[datetime], window: GroupWindow, zone: ZoneInfo) -> np.ndarray:
    """1.0 where the group's staged window is open at the interval start, else 0.0.

    Same rule as the daemon (edge.rules.windows): opens-closes in local time, DST-correct.
    """
    closes = window.closes or DEFAULT_WINDOW_CLOSES
    out = np.zeros(len(starts))
    state = None
    for t, start in enumerate(starts):
        if state is None or start >= state.next_change:
            state = window_state(start, window.opens, closes, zone)
        out[t] = 1.0 if state.open else 0.0
    return out


def build_problem(request: PlanRequest) -> Problem:
    interval_s = request.interval_s
    start = floor_time(request.now, interval_s)
    n = horizon_intervals(request, start)
    step = timedelta(seconds=interval_s)
    starts = [start + i * step for i in range(n)]
    hours = np.full(n, interval_s / 3600.0)
    hours[0] = (start + step - request.now).total_seconds() / 3600.0
    zone = ZoneInfo(request.timezone)
    vehicles = list(request.vehicles)
    nv = len(vehicles)
    frac = np.zeros((nv, n))
    ub = np.zeros((nv, n))
    dep_idx = np.zeros(nv, dtype=int)
    dcfc = _series(request.dcfc_forecast_kw, n)
    windows = {w.group: window_mask(starts, w, zone) for w in request.windows}
    shed = set(request.shed_groups)
    t0 = request.now.timestamp()
    for i, v in enumerate(vehicles):
        a = max(v.arrival.timestamp(), t0)
        d = v.departure.timestamp()
        for t, s in enumerate(starts):
            lo, hi = max(s.timestamp(), a), min(s.timestamp() + interval_s, d)
            if hi > lo:
                frac[i, t] = (hi - lo) / (hours[t] * 3600.0)
        dep_idx[i] = min(n, max(0, math.ceil((d - start.timestamp()) / interval_s)))
        cap = np.where(frac[i] > 0, v.max_power_kw, 0.0)
        if v.group in windows:
            cap = cap * windows[v.group]
        if v.group in shed:
            cap = np.where(
                dcfc > request.shed_threshold_kw, np.minimum(cap, request.shed_limit_kw), cap
            )
        ub[i] = np.where(cap >= request.min_power_kw, cap, 0.0)
    frac = np.minimum(frac, 1.0)
    owed = np.array([energy_owed_kwh(v, request.safety_factor) for v in vehicles])
    horizon_end = (start + n * step).timestamp()
    later_h = np.array([max(0.0, v.departure.timestamp() - horizon_end) / 3600 for v in vehicles])
    base = _series(request.base_load_forecast_kw, n)
    pv = _series(request.pv_forecast_kw, n)
    price, export_price, demand = _tariff_arrays(request, starts)
    return Problem(
        start=start,
        interval_s=interval_s,
        hours=hours,
        keys=[v.key for v in vehicles],
        frac=frac,
        ub_kw=ub,
        max_kw=np.array([v.max_power_kw for v in vehicles], dtype=float),
        energy_kwh=owed,
        due_kwh=np.maximum(0.0, owed - np.array([v.max_power_kw for v in vehicles]) * later_h),
        priority=np.array([priority_index(v, vehicles) for v in vehicles], dtype=float),
        departure_idx=dep_idx,
        net_load_kw=base + dcfc - pv,
        base_kw=base + dcfc,
        pv_kw=pv,
        import_limit_kw=request.import_limit_kw,
        export_limit_kw=request.export_limit_kw,
        price=price,
        export_price=export_price,
        demand=demand,
        min_power_kw=request.min_power_kw,
        battery=request.battery,
    )


def _tariff_arrays(
    request: PlanRequest, starts: list[datetime]
) -> tuple[np.ndarray, np.ndarray, list[DemandTerm]]:
    from edge.tariff.model import Tariff

    n = len(starts)
    tariff = request.tariff
    if not isinstance(tariff, Tariff):
        return np.full(n, FLAT_PRICE_PER_KWH), np.zeros(n), []
    price = np.array([tariff.energy_price(s) for s in starts])
    export_price = np.array([tariff.export_price(s) for s in starts])
    current_month = tariff.billing_month(request.now)
    terms: dict[tuple[str, str], DemandTerm] = {}
    for t, s in enumerate(starts):
        month = tariff.billing_month(s)
        for charge in tariff.demand_charges(s):
            key = (month.isoformat(), charge.name)
            if key not in terms:
                carried = (
                    request.month_peak_kw.get(charge.name, 0.0) if month == current_month else 0.0
                )
                terms[key] = DemandTerm(
                    key=charge.name,
                    month=month.isoformat(),
                    rate_per_kw=charge.rate_per_kw,
                    mask=np.zeros(n, dtype=bool),
                    carried_kw=carried,
                )
            terms[key].mask[t] = True
    return price, export_price, list(terms.values())
