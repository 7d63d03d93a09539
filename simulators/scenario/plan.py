"""A validated scenario resolved into plain data: ports, vehicle types, sessions."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from simulators.scenario.model import OcppVersion, Preset, Scenario, StationType, VehicleType
from simulators.vehicle import VehicleSpec

#: max kW per connector of each preset (same as simulators.chargepoint's presets)
PRESET_POWER_KW: dict[str, float] = {"L1": 1.6, "L2": 6.6, "DCFC": 50.0}

BUILTIN_STATION_TYPES: dict[str, StationType] = {
    "L1": StationType(preset="L1"),
    "L2": StationType(preset="L2"),
    "DCFC": StationType(preset="DCFC"),
}

BUILTIN_VEHICLE_TYPES: dict[str, VehicleType] = {
    # LBNL fleet (Figure 2): Nissan LEAF 24 kWh, Chevy Bolt 60 kWh
    "leaf24": VehicleType(capacity_kwh=24, ac_max_kw=6.6, dc_max_kw=45, arrival_soc_pct=35),
    "bolt60": VehicleType(capacity_kwh=60, ac_max_kw=7.2, dc_max_kw=55, arrival_soc_pct=40),
    "generic40": VehicleType(capacity_kwh=40, ac_max_kw=7.2, dc_max_kw=50, arrival_soc_pct=30),
    "phev12": VehicleType(capacity_kwh=12, ac_max_kw=3.3, dc_max_kw=3.3, arrival_soc_pct=10),
}


@dataclass(frozen=True)
class Port:
    """One connector of one station."""

    station_id: str
    connector_id: int
    station_type: str
    preset: Preset
    max_power_kw: float
    ocpp: OcppVersion
    group: str | None
    node: str | None

    @property
    def is_dcfc(self) -> bool:
        return self.preset == "DCFC"


@dataclass(frozen=True)
class PlannedSession:
    session_id: str
    arrival: datetime  # aware UTC
    departure: datetime
    energy_kwh: float
    vehicle_type: str
    arrival_soc_pct: float
    station: str | None = None
    station_type: str | None = None
    group: str | None = None
    source: str = ""  # "file:line" it came from

    def shifted(self, delta: timedelta) -> PlannedSession:
        return replace(self, arrival=self.arrival + delta, departure=self.departure + delta)


@dataclass
class ScenarioPlan:
    scenario: Scenario
    path: Path
    ports: list[Port]
    station_types: dict[str, StationType]
    vehicle_types: dict[str, VehicleType]
    sessions: list[PlannedSession] = field(default_factory=list)

    @property
    def site_id(self) -> str:
        return self.scenario.scenario.site_id

    @property
    def start(self) -> datetime:
        return self.scenario.scenario.start_utc()

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=self.scenario.scenario.duration_h)

    def vehicle_spec(self, name: str) -> VehicleSpec:
        vt = self.vehicle_types[name]
        return VehicleSpec(
            name=name,
            capacity_kwh=vt.capacity_kwh,
            ac_max_kw=vt.ac_max_kw,
            dc_max_kw=vt.dc_max_kw,
            phases=vt.phases,
            efficiency=vt.efficiency,
            taper_start_pct=vt.taper_start_pct,
            taper_end_fraction=vt.taper_end_fraction,
            min_power_kw=vt.min_power_kw,
            max_interruptions=vt.max_interruptions or None,
        )

    def rebased(self, new_start: datetime) -> ScenarioPlan:
        """The same scenario moved in time so that it starts at ``new_start``."""
        delta = new_start - self.start
        info = self.scenario.scenario.model_copy(update={"start": new_start})
        scenario = self.scenario.model_copy(update={"scenario": info})
        return ScenarioPlan(
            scenario,
            self.path,
            self.ports,
            self.station_types,
            self.vehicle_types,
            [s.shifted(delta) for s in self.sessions],
        )

    def with_duration(self, hours: float) -> ScenarioPlan:
        info = self.scenario.scenario.model_copy(update={"duration_h": hours})
        scenario = self.scenario.model_copy(update={"scenario": info})
        end = self.start + timedelta(hours=hours)
        sessions = [s for s in self.sessions if s.arrival < end]
        return ScenarioPlan(
            scenario, self.path, self.ports, self.station_types, self.vehicle_types, sessions
        )
