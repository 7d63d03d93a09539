"""Siting parameters, the decision record, and its MQTT assignment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from edge.siting.config import SitingSection
from evcommon.contract import Assignment
from evcommon.errors import EvsiteError

# [0075], in the order they are tried when no node is left
EXCEPTION_PATHS = ("move_flexible", "fast_to_slow", "relax_fast", "least_violation")


class SitingError(EvsiteError):
    """No charger can take the vehicle (every connector is held during its window)."""


@dataclass(frozen=True)
class SitingParams:
    v_min_pu: float = 0.88
    v_max_pu: float = 1.10
    arrival_buffer_min: float = 0.0
    departure_buffer_min: float = 15.0
    max_departure_extension_min: float = 60.0
    interval_s: int = 900
    horizon_intervals: int = 96
    strategy: str = "process400"
    w1: float = 1.0
    w2: float = 1.0
    price_per_kwh: float = 0.2

    @classmethod
    def from_config(cls, c: SitingSection) -> SitingParams:
        return cls(
            v_min_pu=c.v_min_pu,
            v_max_pu=c.v_max_pu,
            arrival_buffer_min=c.arrival_buffer_min,
            departure_buffer_min=c.departure_buffer_min,
            max_departure_extension_min=c.max_departure_extension_min,
            horizon_intervals=c.horizon_intervals,
            strategy=c.strategy,
            w1=c.spatial_w1,
            w2=c.spatial_w2,
            price_per_kwh=c.price_per_kwh,
        )


@dataclass
class SitingDecision:
    site_id: str
    vehicle_id: str
    station_id: str
    connector_id: int
    node: str
    window_start: datetime
    window_end: datetime
    method: str  # process400 | spatial | temporal
    path: str = "direct"  # or one of EXCEPTION_PATHS
    needs_fast: bool = False
    fast_charger: bool = False
    iterations: int = 0  # subprocess 445 selections tried
    min_voltage_pu: float = 0.0  # at the chosen node over the window, after dispatch
    dropped: dict[str, str] = field(default_factory=dict)  # node -> why
    over_voltage_nodes: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # vehicles the exception handling moved
    power_kw: list[float] = field(default_factory=list)  # per slot of the window
    shortfall_kwh: float = 0.0
    planner: str = ""
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def note(self) -> str:
        parts = [f"path={self.path}", f"v_min={self.min_voltage_pu:.4f}pu"]
        if self.needs_fast:
            parts.append("fast charging needed")
        if self.moved:
            parts.append("moved " + ",".join(self.moved))
        if self.shortfall_kwh > 0:
            parts.append(f"short {self.shortfall_kwh:.1f} kWh")
        return "; ".join(parts + self.notes)

    def assignment(self) -> Assignment:
        return Assignment(
            site_id=self.site_id,
            vehicle_id=self.vehicle_id,
            station_id=self.station_id,
            connector_id=self.connector_id,
            node=self.node,
            window_start=self.window_start,
            window_end=self.window_end,
            method=self.method if self.path == "direct" else f"{self.method}/{self.path}",
            note=self.note(),
        )
