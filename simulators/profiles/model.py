"""Version-neutral charging profiles, as the composite-schedule maths sees them.

OCPP 1.6 and 2.0.1 describe the same thing with different names; the parsers in
:mod:`simulators.profiles.parse` map both onto these plain dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

#: station_max = 1.6 ChargePointMaxProfile / 2.0.1 ChargingStationMaxProfile;
#: external = 2.0.1 ChargingStationExternalConstraints (no 1.6 equivalent).
Purpose = Literal["station_max", "tx_default", "tx", "external"]
Kind = Literal["Absolute", "Relative", "Recurring"]
Recurrency = Literal["Daily", "Weekly"]
RateUnit = Literal["A", "W"]

RECURRENCE_S: dict[str, int] = {"Daily": 86_400, "Weekly": 7 * 86_400}


@dataclass(frozen=True)
class Period:
    start_s: int  # seconds from the schedule's start
    limit: float  # in the schedule's rate unit (A per phase, or W)
    number_phases: int | None = None  # None: 3 (OCPP's default)


@dataclass(frozen=True)
class Schedule:
    unit: RateUnit
    periods: tuple[Period, ...]
    start: datetime | None = None  # startSchedule
    duration_s: int | None = None
    min_rate: float | None = None


@dataclass(frozen=True)
class Profile:
    profile_id: int
    stack_level: int
    purpose: Purpose
    kind: Kind
    schedule: Schedule
    connector_id: int = 0  # 1.6 connectorId / 2.0.1 evseId; 0 = whole station
    recurrency: Recurrency | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None  # TxProfile only; str for both versions
    installed_at: datetime | None = None  # start of Absolute schedules without startSchedule
    raw: dict[str, object] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Electrical:
    """What unit conversion needs about the connector: W = A x V x phases."""

    voltage_v: float
    phases: int  # phases the connector supplies (1..3)
    max_current_a: float  # per phase, hardware
    max_power_w: float  # hardware

    def phases_for(self, number_phases: int | None) -> int:
        # numberPhases absent means 3 (both versions); a 1-phase connector cannot use more
        return max(1, min(3 if number_phases is None else number_phases, self.phases))

    def to_w(self, limit: float, unit: RateUnit, number_phases: int | None) -> float:
        if unit == "W":
            return limit
        return limit * self.voltage_v * self.phases_for(number_phases)

    def to_a(self, limit: float, unit: RateUnit, number_phases: int | None) -> float:
        if unit == "A":
            return limit
        return limit / (self.voltage_v * self.phases_for(number_phases))

    def convert(
        self, limit: float, unit: RateUnit, number_phases: int | None, out: RateUnit
    ) -> float:
        return (
            self.to_w(limit, unit, number_phases)
            if out == "W"
            else self.to_a(limit, unit, number_phases)
        )


@dataclass(frozen=True)
class CompositePeriod:
    start_s: int  # from the composite's start
    limit: float  # in the composite's unit, rounded to 0.1
    number_phases: int | None = None


@dataclass(frozen=True)
class Composite:
    start: datetime
    duration_s: int
    unit: RateUnit
    periods: tuple[CompositePeriod, ...]
    min_rate: float | None = None

    def limit_at(self, offset_s: float) -> float:
        current = self.periods[0].limit
        for p in self.periods:
            if p.start_s <= offset_s:
                current = p.limit
            else:
                break
        return current
