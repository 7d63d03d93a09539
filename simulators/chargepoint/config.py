"""Configuration of one simulated charging station, with presets and quirk switches."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from evcommon.config import Section
from simulators.profiles.model import Electrical

Preset = Literal["L1", "L2", "DCFC"]

#: (max power kW per connector, nominal voltage V, phases). L1/L2 are North-American
#: single-phase (the LBNL garage): L1 120 V x 13.3 A = 1.6 kW, L2 240 V x 27.5 A =
#: 6.6 kW. DCFC 50 kW is modelled on its 400 V three-phase AC supply (72 A per phase).
PRESETS: dict[str, tuple[float, float, int]] = {
    "L1": (1.6, 120.0, 1),
    "L2": (6.6, 240.0, 1),
    "DCFC": (50.0, 400.0, 3),
}


class Quirks(Section):
    """Field-observed charger behaviours the CSMS must cope with (issue 4).

    Defaults describe a well-behaved station, except ``lose_profiles_on_reboot``
    (most real chargers keep profiles only in RAM)."""

    rate_units: Literal["A", "W", "both"] = "both"
    max_stack_level: int = Field(default=8, ge=0)
    max_schedule_periods: int = Field(default=24, ge=1)
    max_profiles_installed: int = Field(default=16, ge=1)
    refuses_station_max_profile: bool = False
    #: the spec's own rule (a TxProfile needs a running transaction); False = a lenient
    #: station that keeps the TxProfile and applies it to the next transaction there
    refuses_tx_profile_without_transaction: bool = True
    external_load_management_disabled: bool = False  # rejects every profile
    ignores_limits: bool = False  # answers Accepted but draws as if unlimited
    clear_by_criteria_unknown: bool = False  # ClearChargingProfile without id -> Unknown
    lose_profiles_on_reboot: bool = True
    #: a firmware update / replaced box: the next reboot switches ``rate_units`` to this
    rate_units_after_reboot: Literal["A", "W", "both"] | None = None
    #: firmware that reports every composite period as "no limit": limit -1, numberPhases -1
    composite_no_limit_negative: bool = False
    #: firmware whose composite schedule misstates the limits it applies by this factor
    #: (e.g. per-phase amps reported as a total): the CSMS's verification sees a mismatch
    composite_limit_factor: float = Field(default=1.0, gt=0)


class StationConfig(Section):
    station_id: str = Field(min_length=1, max_length=48)
    ocpp_version: Literal["1.6", "2.0.1"] = "1.6"
    connectors: int = Field(
        default=1, ge=1, le=64
    )  # 1.6 connectors / 2.0.1 EVSEs (1 connector each)
    preset: Preset = "L2"
    max_power_kw: float | None = Field(default=None, gt=0)  # per connector; default: preset
    voltage_v: float | None = Field(default=None, gt=0)
    phases: int | None = Field(default=None, ge=1, le=3)
    station_max_power_kw: float | None = Field(default=None, gt=0)  # default: sum of connectors
    password: str | None = None  # security profile 1: HTTP basic auth, user = station_id
    meter_interval_s: float = Field(default=60.0, gt=0)  # simulated seconds
    heartbeat_interval_s: float = Field(default=300.0, gt=0)  # until the CSMS sets one
    # Real firmware boots once per power cycle and reconnects without a BootNotification after
    # a network flap or a CSMS restart; True is a quirk switch (a boot on every connection).
    boot_on_reconnect: bool = False
    vendor: str = "evsite"
    model: str | None = None  # default: "Sim-<preset>"
    serial_number: str | None = None
    firmware_version: str = "0.1.0"
    id_token: str = "SIMTAG"  # default id tag when the EV brings none
    call_timeout_s: float = Field(default=30.0, gt=0)  # real seconds
    reconnect_min_s: float = Field(default=0.5, gt=0)  # real seconds, doubled up to max
    reconnect_max_s: float = Field(default=30.0, gt=0)
    transaction_message_attempts: int = Field(default=5, ge=1)
    transaction_message_retry_interval_s: float = Field(default=1.0, gt=0)  # real s, x attempt
    # at shutdown: real seconds to wait for the transaction queue to reach the CSMS
    drain_timeout_s: float = Field(default=5.0, ge=0)
    quirks: Quirks = Field(default_factory=Quirks)

    @model_validator(mode="after")
    def _check(self) -> StationConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self

    # resolved electrical values -------------------------------------------------
    @property
    def power_kw(self) -> float:
        return self.max_power_kw if self.max_power_kw is not None else PRESETS[self.preset][0]

    @property
    def volts(self) -> float:
        return self.voltage_v if self.voltage_v is not None else PRESETS[self.preset][1]

    @property
    def phase_count(self) -> int:
        return self.phases if self.phases is not None else PRESETS[self.preset][2]

    @property
    def max_current_a(self) -> float:
        return self.power_kw * 1000.0 / (self.volts * self.phase_count)

    @property
    def total_power_kw(self) -> float:
        if self.station_max_power_kw is not None:
            return self.station_max_power_kw
        return self.power_kw * self.connectors

    @property
    def model_name(self) -> str:
        return self.model or f"Sim-{self.preset}"

    def electrical(self, connector_id: int) -> Electrical:
        """Hardware limits of one connector, or of the whole station for 0."""
        power_kw = self.total_power_kw if connector_id == 0 else self.power_kw
        return Electrical(
            voltage_v=self.volts,
            phases=self.phase_count,
            max_current_a=power_kw * 1000.0 / (self.volts * self.phase_count),
            max_power_w=power_kw * 1000.0,
        )
