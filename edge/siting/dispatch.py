"""Subprocess 450: economic dispatch of the schedule with the new vehicle added.

Any :class:`edge.planning.Planner` does: the MILP of the optimizer when it is
installed, the small EDF planner otherwise. A planner that fails is logged in
the decision's notes and replaced by EDF, so siting never stops on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.planning import Plan, Planner, PlanRequest, VehicleRequest
from edge.siting.decision import SitingParams
from edge.siting.edf import EdfPlanner
from edge.siting.flows import profile_indices
from edge.siting.network import SiteNetwork
from edge.siting.schedule import Arrival, Schedule, hours, slot_start

MAX_HORIZON = 192  # 48 h of 15-minute slots


@dataclass
class Dispatch:
    schedule: Schedule  # existing vehicles with their re-planned power
    new_kw: list[float]  # the new vehicle, per slot of its window
    battery_kw: dict[int, float] = field(default_factory=dict)
    shortfall_kwh: float = 0.0
    planner: str = ""
    notes: list[str] = field(default_factory=list)


def base_load_kw(site: SiteNetwork) -> tuple[float, float]:
    """Total base load and PV rating of the network, kW."""
    net = site.net
    loads = net.load[net.load.in_service]
    sgens = net.sgen[net.sgen.in_service]
    return (
        float((loads.p_mw * loads.scaling).sum() * 1000),
        float((sgens.p_mw * sgens.scaling).sum() * 1000),
    )


def run_dispatch(
    planner: Planner,
    site: SiteNetwork,
    sched: Schedule,
    arrival: Arrival,
    start: int,
    end: int,
    now_slot: int,
    max_kw: float,
    params: SitingParams,
) -> Dispatch:
    iv = params.interval_s
    entries = [e for e in sched.entries.values() if e.end_slot > now_slot]
    last = max([end, *(e.end_slot for e in entries)])
    n = min(MAX_HORIZON, max(params.horizon_intervals, last - now_slot))
    vehicles = []
    for e in entries:
        delivered = sum(p for s, p in e.power_kw.items() if s < now_slot) * hours(1, iv)
        vehicles.append(
            VehicleRequest(
                key=e.vehicle_id,
                group="sited",
                arrival=slot_start(max(e.start_slot, now_slot), iv),
                departure=slot_start(e.end_slot, iv),
                energy_needed_kwh=e.energy_kwh,
                energy_delivered_kwh=delivered,
                max_power_kw=e.max_power_kw,
                station_id=e.charger.station_id,
                connector_id=e.charger.connector_id,
            )
        )
    vehicles.append(
        VehicleRequest(
            key=arrival.vehicle_id,
            group=arrival.group,
            arrival=slot_start(start, iv),
            departure=slot_start(end, iv),
            energy_needed_kwh=arrival.energy_needed_kwh(),
            max_power_kw=max_kw,
            connected=False,
        )
    )
    base_kw, pv_kw = base_load_kw(site)
    idx = profile_indices(site, iv, range(now_slot, now_slot + n))
    request = PlanRequest(
        now=slot_start(now_slot, iv),
        timezone=site.timezone,
        vehicles=vehicles,
        import_limit_kw=site.import_limit_kw,
        horizon_intervals=n,
        base_load_forecast_kw=[base_kw * site.profile_value(site.base_profile, i) for i in idx],
        pv_forecast_kw=[pv_kw * site.profile_value(site.pv_profile, i) for i in idx],
        safety_factor=1.0,
    )
    notes: list[str] = []
    try:
        plan = planner.plan(request)
    except Exception as exc:  # a failing optimizer must not stop siting
        notes.append(f"planner {getattr(planner, 'name', '?')} failed ({exc}); used edf")
        plan = EdfPlanner().plan(request)
    return _apply(plan, sched, arrival, start, end, now_slot, iv, notes)


def _apply(
    plan: Plan,
    sched: Schedule,
    arrival: Arrival,
    start: int,
    end: int,
    now_slot: int,
    iv: int,
    notes: list[str],
) -> Dispatch:
    out = sched.copy()
    for e in out.entries.values():
        row = plan.power_kw.get(e.vehicle_id)
        if row is None:
            continue
        kept = {s: p for s, p in e.power_kw.items() if s < now_slot}
        kept.update({now_slot + i: float(p) for i, p in enumerate(row) if p > 0})
        e.power_kw = kept
    row = plan.power_kw.get(arrival.vehicle_id, [])
    new_kw = [
        float(row[s - now_slot]) if 0 <= s - now_slot < len(row) else 0.0 for s in range(start, end)
    ]
    delivered = sum(new_kw) * hours(1, iv)
    battery = {now_slot + i: float(p) for i, p in enumerate(plan.battery_kw) if p}
    return Dispatch(
        schedule=out,
        new_kw=new_kw,
        battery_kw=battery,
        shortfall_kwh=max(0.0, arrival.energy_needed_kwh() - delivered),
        planner=plan.strategy,
        notes=notes,
    )
