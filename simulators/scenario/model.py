"""The scenario file (TOML) as pydantic models. docs/simulators.md documents every key."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

OcppVersion = Literal["1.6", "2.0.1"]
Preset = Literal["L1", "L2", "DCFC"]
Days = Literal["all", "weekdays", "weekends"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScenarioInfo(_Section):
    name: str
    site_id: str = Field(min_length=1)
    timezone: str = "UTC"
    start: datetime  # naive = local time in ``timezone``
    duration_h: float = Field(default=24.0, gt=0)
    seed: int = 1
    latitude_deg: float = Field(default=37.8, ge=-90, le=90)
    longitude_deg: float = Field(default=-122.27, ge=-180, le=180)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def start_utc(self) -> datetime:
        start = self.start if self.start.tzinfo else self.start.replace(tzinfo=self.tz)
        return start.astimezone(ZoneInfo("UTC"))


class MetersSection(_Section):
    publish_interval_s: float = Field(default=10.0, gt=0)
    # OCPP MeterValues of the simulated stations: every station_meter_interval_s simulated
    # seconds, but at most one sample per station_meter_min_real_s real seconds, so a fast
    # clock does not flood the CSMS (at 1440x: every 360 s simulated)
    station_meter_interval_s: float = Field(default=60.0, gt=0)
    station_meter_min_real_s: float = Field(default=0.25, ge=0)
    prefix: str = "evsite/v1"
    retain: bool = False


class OcppSection(_Section):
    """How the simulated OCPP stations treat their transaction messages (``--csms-url``)."""

    # CALLERROR answers before a transaction message is given up (1.6
    # TransactionMessageAttempts); every drop is counted in the run output
    transaction_message_attempts: int = Field(default=5, ge=1)
    transaction_message_retry_interval_s: float = Field(default=1.0, gt=0)  # real s x tries
    # at the end of a run: real seconds each station may take to deliver its queue
    drain_timeout_s: float = Field(default=5.0, ge=0)


class BaseLoadSection(_Section):
    profile: Literal["commercial", "residential"] = "commercial"
    peak_kw: float = Field(default=65.0, ge=0)
    weekend_factor: float = Field(default=1.0, ge=0)
    noise_pct: float = Field(default=3.0, ge=0, le=50)


class PvSection(_Section):
    peak_kw: float = Field(ge=0)
    performance_ratio: float = Field(default=0.85, gt=0, le=1)
    cloudiness: float = Field(default=0.3, ge=0, le=1)


class BatterySection(_Section):
    capacity_kwh: float = Field(gt=0)
    power_kw: float = Field(gt=0)
    initial_soc_pct: float = Field(default=50.0, ge=0, le=100)
    min_soc_pct: float = Field(default=10.0, ge=0, le=100)
    efficiency: float = Field(default=0.92, gt=0, le=1)
    shave_above_kw: float = Field(ge=0)
    charge_below_kw: float = Field(ge=0)


class VehicleType(_Section):
    capacity_kwh: float = Field(gt=0)
    ac_max_kw: float = Field(gt=0)
    dc_max_kw: float = Field(default=50.0, gt=0)
    phases: int = Field(default=1, ge=1, le=3)
    efficiency: float = Field(default=0.9, gt=0, le=1)
    taper_start_pct: float = Field(default=80.0, gt=0, le=100)
    taper_end_fraction: float = Field(default=0.1, ge=0, le=1)
    min_power_kw: float = Field(default=1.5, ge=0)
    max_interruptions: int = Field(default=3, ge=0)  # 0: never gives up
    arrival_soc_pct: float = Field(default=30.0, ge=0, le=100)


class StationType(_Section):
    preset: Preset
    max_power_kw: float | None = Field(default=None, gt=0)  # None: the preset's


class StationEntry(_Section):
    """One station, or ``count`` stations named ``{id_prefix}{NN}``."""

    id: str | None = None
    id_prefix: str | None = None
    count: int = Field(default=1, ge=1)
    first: int = Field(default=1, ge=0)
    type: str
    ocpp: OcppVersion = "1.6"
    group: str | None = None
    node: str | None = None
    connectors: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _named(self) -> StationEntry:
        if (self.id is None) == (self.id_prefix is None):
            raise ValueError("give exactly one of 'id' or 'id_prefix' (with 'count')")
        if self.id is not None and self.count != 1:
            raise ValueError("'count' needs 'id_prefix', not 'id'")
        return self

    def ids(self) -> list[str]:
        if self.id is not None:
            return [self.id]
        return [f"{self.id_prefix}{i:02d}" for i in range(self.first, self.first + self.count)]


class SessionEntry(_Section):
    """One explicit session. Target: a station id, a station type or a group."""

    session_id: str | None = None
    arrival: datetime
    departure: datetime
    energy_kwh: float = Field(ge=0)
    station: str | None = None
    station_type: str | None = None
    group: str | None = None
    vehicle: str = "generic40"
    arrival_soc_pct: float | None = Field(default=None, ge=0, le=100)


class GenerateEntry(_Section):
    """Random sessions every (week)day: normal arrival/departure times and energies."""

    name: str
    count: int = Field(ge=0)  # sessions per matching day
    days: Days = "all"
    station_type: str | None = None
    group: str | None = None
    vehicles: list[str] = Field(default_factory=lambda: ["generic40"], min_length=1)
    arrival: str  # local "HH:MM"
    arrival_sd_min: float = Field(default=30.0, ge=0)
    departure: str | None = None  # local "HH:MM"; at or before the arrival: the next day
    departure_sd_min: float = Field(default=30.0, ge=0)
    stay_min: float | None = Field(default=None, gt=0)  # instead of departure: length of stay
    stay_sd_min: float = Field(default=0.0, ge=0)
    energy_kwh: float = Field(gt=0)
    energy_sd_kwh: float = Field(default=0.0, ge=0)
    min_stay_min: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _one_end(self) -> GenerateEntry:
        if (self.departure is None) == (self.stay_min is None):
            raise ValueError("give exactly one of 'departure' or 'stay_min'")
        return self

    @field_validator("arrival", "departure")
    @classmethod
    def _hhmm(cls, v: str | None) -> str | None:
        if v is None:
            return v
        hh, sep, mm = v.partition(":")
        if not (sep and hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
            raise ValueError(f"expected local time 'HH:MM', got {v!r}")
        return v


class CsvSource(_Section):
    path: str  # relative to the scenario file
    vehicle: str = "generic40"  # default when the CSV has no vehicle column


class TrondheimSource(_Section):
    """Replay of the Trondheim residential sessions (Sørensen et al. 2021)."""

    path: str = "builtin"  # "builtin" = simulators/data copy; else relative to the scenario
    garage: str = "Bl2"
    vehicle: str = "generic40"
    # the i-th user of the garage (user ids sorted) charges at the i-th station listed


class Scenario(_Section):
    scenario: ScenarioInfo
    meters: MetersSection = MetersSection()
    ocpp: OcppSection = OcppSection()
    base_load: BaseLoadSection = BaseLoadSection()
    pv: PvSection | None = None
    battery: BatterySection | None = None
    vehicle_types: dict[str, VehicleType] = Field(default_factory=dict)
    station_types: dict[str, StationType] = Field(default_factory=dict)
    stations: list[StationEntry] = Field(min_length=1)
    sessions: list[SessionEntry] = Field(default_factory=list)
    generate: list[GenerateEntry] = Field(default_factory=list)
    sessions_csv: CsvSource | None = None
    trondheim: TrondheimSource | None = None
