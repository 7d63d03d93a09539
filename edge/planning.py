"""The contract between the edge daemon and the planners (optimizer, baselines, siting).

The daemon builds a :class:`PlanRequest` from its cached readings every tick
and asks a :class:`Planner` for a :class:`Plan`; the rules (windows, DCFC shed,
site limit, floor) then act on the plan's first interval. Planners are pure:
no I/O, no clock reads (``request.now`` is the time).

Fields may be added (with defaults) as planners grow; never removed or renamed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Literal, Protocol

INTERVAL_S = 900  # planning resolution: 15 minutes, the demand-charge interval


@dataclass(frozen=True)
class VehicleRequest:
    key: str  # "station_id/connector_id" for connected vehicles, any unique id otherwise
    group: str  # e.g. fleet-1, public
    arrival: datetime  # plug-in time, or expected arrival when not connected yet
    departure: datetime
    energy_needed_kwh: float  # as the driver/fleet/EV asked, before the safety factor
    max_power_kw: float  # min(vehicle on-board limit, connector limit)
    connected: bool = True  # False: known to be arriving (fleet schedule or forecast)
    battery_kwh: float | None = None
    soc_pct: float | None = None
    target_soc_pct: float | None = None  # never charge past this
    pays_for_fast: bool = False  # seed 002 priority: owner pays for fast charging
    energy_delivered_kwh: float = 0.0  # in this session so far
    station_id: str | None = None
    connector_id: int | None = None


@dataclass(frozen=True)
class BatteryState:
    power_kw: float
    energy_kwh: float
    soc_pct: float
    efficiency: float = 0.95  # one-way
    min_soc_pct: float = 10.0
    max_soc_pct: float = 95.0


@dataclass(frozen=True)
class GroupWindow:
    group: str
    opens: time  # local time of the site's time zone
    closes: time | None = None  # local; None: 08:30 (LBNL fleet charging blocked 8:30-21:30)


@dataclass(frozen=True)
class PlanRequest:
    now: datetime  # aware UTC
    timezone: str  # site's IANA time zone, e.g. "America/Los_Angeles"
    vehicles: Sequence[VehicleRequest]
    import_limit_kw: float
    export_limit_kw: float = 0.0
    interval_s: int = INTERVAL_S
    horizon_intervals: int | None = None  # default: up to the latest departure, max 48 h
    base_load_forecast_kw: Sequence[float] = ()  # per interval from now; repeats last value
    pv_forecast_kw: Sequence[float] = ()
    dcfc_forecast_kw: Sequence[float] = ()
    battery: BatteryState | None = None
    month_peak_kw: dict[str, float] = field(default_factory=dict)  # demand period -> kW so far
    tariff: object | None = None  # edge.tariff.Tariff; None: planners use a flat price
    windows: Sequence[GroupWindow] = ()  # staged start windows, as constraints
    shed_groups: Sequence[str] = ()  # groups held at shed_limit_kw while DCFC > threshold
    shed_limit_kw: float = 1.65
    shed_threshold_kw: float = 10.0
    min_power_kw: float = 1.5  # the floor: 0 or at least this
    safety_factor: float = 1.2
    time_limit_s: float | None = None


PlanStatus = Literal["optimal", "feasible", "fallback", "heuristic"]


@dataclass
class Plan:
    start: datetime
    interval_s: int
    power_kw: dict[str, list[float]]  # vehicle key -> power per interval
    strategy: str
    status: PlanStatus
    message: str = ""
    grid_kw: list[float] = field(default_factory=list)
    battery_kw: list[float] = field(default_factory=list)  # + charging, - discharging
    shortfall_kwh: dict[str, float] = field(default_factory=dict)  # who is short, by how much
    build_time_s: float = 0.0
    solve_time_s: float = 0.0
    mip_gap: float | None = None

    def first_interval_kw(self) -> dict[str, float]:
        return {k: (v[0] if v else 0.0) for k, v in self.power_kw.items()}


class Planner(Protocol):
    name: str

    def plan(self, request: PlanRequest) -> Plan: ...
