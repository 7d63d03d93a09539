"""Temporal-spatial scheduling with distributed generation (seed 003), as pure functions.

Spatial (eq. 1-4): fast-charging requests R_fch(SoC, location) go to stations so that

    F_fch = w1 * sum_i |P_base^i + P_fch^i - P_DG^i| + w2 * (sum_j cost^j) / n       (1)
    cost  = (1 - SoC0) * C_bat * RTP + dis * E_c * RTP                               (2)

is least, with every bus voltage within 10 % (3) and each station within the
vehicle's remaining range, dis < SoC0 * C_bat / E_c (4). Small cases are solved
exactly (all assignments, cheapest first until the voltage check passes),
larger ones greedily (lowest SoC first, cheapest marginal station).

Temporal (eq. 5-8): normal-charging requests R_nch(t_a, SoC0, C_bat, t_end) get
slots of a day (48 half hours in the paper; any slot length here) so that

    F_nch = w1 * sum_t ( |P_base^t + P_nch^t - P_DG^t| + w2 * sum_j P_nch,j^t RTP^t T )   (5, 6)

is least, voltages stay within 10 % in every slot (7) and each battery is full
at t_end (8). Solved greedily: least laxity first, each vehicle's slots taken
one at a time where the marginal F_nch is least.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FastRequest:
    vehicle_id: str
    soc: float  # SoC0, 0..1
    battery_kwh: float  # C_bat
    distance_km: dict[str, float]  # dis to each station
    consumption_kwh_per_km: float = 0.2  # E_c


@dataclass(frozen=True)
class FastStation:
    name: str
    base_kw: float  # P_base^i
    dg_kw: float  # P_DG^i
    charger_kw: float  # fast charging power one vehicle adds
    chargers: int = 1  # vehicles it can take at once


@dataclass
class SpatialResult:
    assignment: dict[str, str]  # vehicle -> station
    objective: float
    cost: dict[str, float]  # vehicle -> eq. 2
    unassigned: list[str] = field(default_factory=list)


def trip_cost(req: FastRequest, station: str, rtp: float) -> float:
    """Eq. 2: energy to full plus the energy of driving there, at the real-time price."""
    return (1 - req.soc) * req.battery_kwh * rtp + req.distance_km[station] * (
        req.consumption_kwh_per_km * rtp
    )


def reachable(req: FastRequest, station: str) -> bool:
    """Eq. 4: within the remaining range."""
    return req.distance_km.get(station, float("inf")) < (
        req.soc * req.battery_kwh / req.consumption_kwh_per_km
    )


def spatial_objective(
    assignment: dict[str, str],
    requests: list[FastRequest],
    stations: list[FastStation],
    rtp: float,
    w1: float,
    w2: float,
) -> float:
    """Eq. 1 for one assignment."""
    added = {s.name: 0.0 for s in stations}
    for s_name in assignment.values():
        added[s_name] += next(s.charger_kw for s in stations if s.name == s_name)
    balance = sum(abs(s.base_kw + added[s.name] - s.dg_kw) for s in stations)
    by_id = {r.vehicle_id: r for r in requests}
    costs = [trip_cost(by_id[v], s, rtp) for v, s in assignment.items()]
    return w1 * balance + w2 * (sum(costs) / len(costs) if costs else 0.0)


def spatial_schedule(
    requests: list[FastRequest],
    stations: list[FastStation],
    *,
    rtp: float,
    w1: float = 1.0,
    w2: float = 1.0,
    voltage_ok: Callable[[dict[str, float]], bool] | None = None,
    max_enumeration: int = 20000,
) -> SpatialResult:
    """Assign each request to a station (eq. 1-4). ``voltage_ok`` gets the kW added
    per station and says whether every bus stays within 10 % (eq. 3)."""
    options = [[s.name for s in stations if reachable(r, s.name)] for r in requests]
    cap = {s.name: s.chargers for s in stations}
    size = 1
    for o in options:
        size *= max(1, len(o))
    if size <= max_enumeration and all(options):
        scored = []
        for combo in itertools.product(*options):
            counts = {n: combo.count(n) for n in set(combo)}
            if any(c > cap[n] for n, c in counts.items()):
                continue
            a = {r.vehicle_id: s for r, s in zip(requests, combo, strict=True)}
            scored.append((spatial_objective(a, requests, stations, rtp, w1, w2), a))
        for obj, a in sorted(scored, key=lambda x: x[0]):
            if voltage_ok is None or voltage_ok(_added_kw(a, stations)):
                return _result(a, requests, obj, rtp)
    return _greedy_spatial(requests, stations, options, rtp, w1, w2, voltage_ok)


def _added_kw(assignment: dict[str, str], stations: list[FastStation]) -> dict[str, float]:
    kw = {s.name: s.charger_kw for s in stations}
    out: dict[str, float] = {}
    for s_name in assignment.values():
        out[s_name] = out.get(s_name, 0.0) + kw[s_name]
    return out


def _result(
    a: dict[str, str], requests: list[FastRequest], obj: float, rtp: float
) -> SpatialResult:
    by_id = {r.vehicle_id: r for r in requests}
    return SpatialResult(
        assignment=a,
        objective=obj,
        cost={v: trip_cost(by_id[v], s, rtp) for v, s in a.items()},
        unassigned=[r.vehicle_id for r in requests if r.vehicle_id not in a],
    )


def _greedy_spatial(
    requests: list[FastRequest],
    stations: list[FastStation],
    options: list[list[str]],
    rtp: float,
    w1: float,
    w2: float,
    voltage_ok: Callable[[dict[str, float]], bool] | None,
) -> SpatialResult:
    cap = {s.name: s.chargers for s in stations}
    a: dict[str, str] = {}
    order = sorted(zip(requests, options, strict=True), key=lambda ro: ro[0].soc)
    for req, opts in order:
        best: tuple[float, str] | None = None
        for s_name in opts:
            if sum(1 for x in a.values() if x == s_name) >= cap[s_name]:
                continue
            trial = {**a, req.vehicle_id: s_name}
            if voltage_ok is not None and not voltage_ok(_added_kw(trial, stations)):
                continue
            obj = spatial_objective(trial, requests, stations, rtp, w1, w2)
            if best is None or obj < best[0]:
                best = (obj, s_name)
        if best is not None:
            a[req.vehicle_id] = best[1]
    return _result(a, requests, spatial_objective(a, requests, stations, rtp, w1, w2), rtp)


@dataclass(frozen=True)
class NormalRequest:
    vehicle_id: str
    arrival_slot: int  # t_a
    departure_slot: int  # t_end, exclusive
    soc: float  # SoC0, 0..1
    battery_kwh: float  # C_bat
    power_kw: float  # normal charging power

    def energy_kwh(self) -> float:
        return (1 - self.soc) * self.battery_kwh  # eq. 8: full at t_end


@dataclass
class TemporalResult:
    power_kw: dict[str, list[float]]
    objective: float
    unmet_kwh: dict[str, float]


def temporal_objective(
    nch_kw: list[float],
    base_kw: list[float],
    dg_kw: list[float],
    rtp: list[float],
    w1: float,
    w2: float,
    slot_h: float,
) -> float:
    """Eq. 5 with eq. 6 for the total normal-charging power per slot."""
    return w1 * sum(
        abs(b + n - g) + w2 * n * r * slot_h
        for n, b, g, r in zip(nch_kw, base_kw, dg_kw, rtp, strict=True)
    )


def temporal_schedule(
    requests: list[NormalRequest],
    base_kw: list[float],
    dg_kw: list[float],
    rtp: list[float],
    *,
    w1: float = 1.0,
    w2: float = 1.0,
    slot_h: float = 0.5,
    voltage_ok: Callable[[int, float], bool] | None = None,
) -> TemporalResult:
    """Charging slots for each request (eq. 5-8); ``voltage_ok(slot, nch_kw)`` is eq. 7."""
    n = len(base_kw)
    total = [0.0] * n
    power: dict[str, list[float]] = {}
    unmet: dict[str, float] = {}

    def laxity(r: NormalRequest) -> float:
        return (r.departure_slot - r.arrival_slot) * slot_h - r.energy_kwh() / r.power_kw

    for req in sorted(requests, key=laxity):
        row = [0.0] * n
        need = req.energy_kwh()
        free = list(range(max(0, req.arrival_slot), min(n, req.departure_slot)))
        while need > 1e-9 and free:
            p = min(req.power_kw, need / slot_h)

            def marginal(t: int, p: float = p) -> float:
                before = abs(base_kw[t] + total[t] - dg_kw[t])
                after = abs(base_kw[t] + total[t] + p - dg_kw[t])
                return w1 * (after - before + w2 * p * rtp[t] * slot_h)

            ok = [t for t in free if voltage_ok is None or voltage_ok(t, total[t] + p)]
            if not ok:
                break
            t = min(ok, key=lambda t: (marginal(t), t))
            free.remove(t)
            row[t] = p
            total[t] += p
            need -= p * slot_h
        power[req.vehicle_id] = row
        if need > 1e-6:
            unmet[req.vehicle_id] = need
    obj = temporal_objective(total, base_kw, dg_kw, rtp, w1, w2, slot_h)
    return TemporalResult(power, obj, unmet)
