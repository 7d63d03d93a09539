"""The ``[smart_charging]`` section of the CSMS config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from evcommon.config import Section


class StationElectrical(Section):
    """What the CSMS knows about a station's supply when converting kW to A; a key that
    is not set falls back to what the station reports, then to the section defaults."""

    voltage_v: float | None = Field(default=None, gt=0, description="phase-to-neutral voltage")
    phases: int | None = Field(default=None, ge=1, le=3, description="phases to the EVSEs")
    current_type: Literal["AC", "DC"] | None = Field(
        default=None, description="AC or DC; unset: detected from what the station reports"
    )
    rate_unit: str | None = Field(
        default=None,
        pattern="^(W|A)$",
        description="force this unit instead of asking the station",
    )


class SmartChargingSection(Section):
    enabled: bool = True
    # conversion defaults; per-station overrides in [smart_charging.stations.<id>]
    default_voltage_v: float = Field(default=230.0, gt=0)
    default_phases: int = Field(default=3, ge=1, le=3)
    stations: dict[str, StationElectrical] = Field(default_factory=dict)
    # profile ids we allocate start here (id = base + connector*1000 + purpose*100 + level)
    profile_id_base: int = Field(default=100_000, ge=1)
    default_stack_level: int = Field(default=1, ge=0)
    # ask GetCompositeSchedule after every SetChargingProfile and report mismatches
    verify: bool = True
    verify_duration_s: int = Field(default=300, gt=0)
    # a reading above limit * (1 + over_limit_tolerance_pct/100) + over_limit_tolerance_kw
    # that is older than over_limit_grace_s after the profile was installed raises an alarm
    over_limit_tolerance_pct: float = Field(default=5.0, ge=0)
    over_limit_tolerance_kw: float = Field(default=0.2, ge=0)
    over_limit_grace_s: float = Field(default=60.0, ge=0)
    # re-install recorded profiles after every accepted BootNotification
    reinstall_on_boot: bool = True
    call_timeout_s: float | None = Field(default=None, gt=0, description="None: core default")

    def station(self, station_id: str) -> StationElectrical:
        return self.stations.get(station_id) or StationElectrical()
