"""A simulated electric vehicle: battery, charging curve, on-board charger, battery protection.

Implements :class:`simulators.ports.EvLoad`. Pure: no I/O, no clock; the station
(or the scenario runner in local mode) calls :meth:`Vehicle.step` with simulated
seconds.

Field behaviour from the LBNL report (p. 926, 1056): when the station offers a
non-zero power below about 1.5 kW, the vehicle's battery protection stops the
charge ("interruption"); frequent interruptions end the session early. We model
both: an offer in ``(0, min_power_kw)`` draws nothing and counts one interruption
when the vehicle enters that state; after ``max_interruptions`` of them the
vehicle gives up (``wants_to_stop``). An offer of exactly 0 is a deliberate pause
and is not an interruption.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ChargingMode = Literal["ac", "dc"]
_MAX_SUBSTEP_S = 60.0
_EPS_KWH = 1e-9


@dataclass(frozen=True)
class VehicleSpec:
    """A vehicle type. Powers are grid-side kW."""

    name: str = "generic"
    capacity_kwh: float = 40.0
    ac_max_kw: float = 7.2  # on-board charger limit
    dc_max_kw: float = 50.0
    phases: int = 1  # phases the on-board charger uses
    efficiency: float = 0.9  # grid -> battery
    taper_start_pct: float = 80.0  # full power up to here, then linear taper
    taper_end_fraction: float = 0.1  # fraction of full power left at 100 % SoC
    min_power_kw: float = 1.5  # battery-protection threshold (LBNL: about 1.5 kW)
    max_interruptions: int | None = 3  # None: never gives up

    def __post_init__(self) -> None:
        checks = {
            "capacity_kwh": self.capacity_kwh > 0,
            "ac_max_kw": self.ac_max_kw > 0,
            "dc_max_kw": self.dc_max_kw > 0,
            "phases": self.phases in (1, 2, 3),
            "efficiency": 0 < self.efficiency <= 1,
            "taper_start_pct": 0 < self.taper_start_pct <= 100,
            "taper_end_fraction": 0 <= self.taper_end_fraction <= 1,
            "min_power_kw": self.min_power_kw >= 0,
            "max_interruptions": self.max_interruptions is None or self.max_interruptions >= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"vehicle type {self.name!r}: invalid {bad[0]}")


class Vehicle:
    """One vehicle on one charging session (implements ``EvLoad``)."""

    def __init__(
        self,
        vehicle_id: str,
        spec: VehicleSpec,
        *,
        arrival_soc_pct: float,
        energy_request_kwh: float | None = None,
        departure_time: datetime | None = None,
        id_token: str | None = None,
        mode: ChargingMode = "ac",
    ):
        if not 0 <= arrival_soc_pct <= 100:
            raise ValueError(f"vehicle {vehicle_id}: arrival_soc_pct must be in 0..100")
        if energy_request_kwh is not None and energy_request_kwh < 0:
            raise ValueError(f"vehicle {vehicle_id}: energy_request_kwh must be >= 0")
        self.vehicle_id = vehicle_id
        self.id_token = id_token or vehicle_id
        self.spec = spec
        # on a DC charger the on-board charger is bypassed; the station's (3-phase AC
        # supply) model must not cut a 1-phase car to a third of the DC power
        self.phases = 3 if mode == "dc" else spec.phases
        self.mode: ChargingMode = mode
        self._battery_kwh = spec.capacity_kwh * arrival_soc_pct / 100.0
        self._energy_request_kwh = energy_request_kwh
        self._departure_time = departure_time
        self._drawn_kwh = 0.0
        self._last_power_kw = 0.0
        self._interrupted = False  # currently held off by battery protection
        self.interruptions = 0
        self.gave_up = False

    # -- EvLoad ------------------------------------------------------------
    @property
    def soc_pct(self) -> float | None:
        return 100.0 * self._battery_kwh / self.spec.capacity_kwh

    @property
    def energy_drawn_kwh(self) -> float:
        return self._drawn_kwh

    @property
    def departure_time(self) -> datetime | None:
        return self._departure_time

    @property
    def energy_request_kwh(self) -> float | None:
        """Grid-side energy still wanted on arrival: the session's request, else to full."""
        if self._energy_request_kwh is not None:
            return self._energy_request_kwh
        return (self.spec.capacity_kwh - self._battery_kwh_at(0.0)) / self.spec.efficiency

    @property
    def wants_to_stop(self) -> bool:
        return self.gave_up or self.is_full or self.request_met

    def max_power_kw(self) -> float:
        if self.wants_to_stop:
            return 0.0
        return self._curve_kw(self.soc_pct or 0.0)

    def step(self, offered_kw: float, dt_s: float) -> float:
        if dt_s <= 0:
            return 0.0
        if self.wants_to_stop or offered_kw <= 0:
            self._interrupted = False
            self._last_power_kw = 0.0
            return 0.0
        if offered_kw < self.spec.min_power_kw:
            self._protect()
            self._last_power_kw = 0.0
            return 0.0
        self._interrupted = False
        energy_kwh = 0.0
        remaining_s = dt_s
        while remaining_s > 0 and not self.wants_to_stop:
            sub_s = min(remaining_s, _MAX_SUBSTEP_S)
            power_kw = min(offered_kw, self._curve_kw(self.soc_pct or 0.0))
            e_kwh = min(power_kw * sub_s / 3600.0, self._room_kwh())
            self._drawn_kwh += e_kwh
            self._battery_kwh += e_kwh * self.spec.efficiency
            energy_kwh += e_kwh
            remaining_s -= sub_s
        self._last_power_kw = energy_kwh * 3600.0 / dt_s
        return self._last_power_kw

    # -- extras --------------------------------------------------------------
    @property
    def last_power_kw(self) -> float:
        """Average grid power of the last step."""
        return self._last_power_kw

    @property
    def is_full(self) -> bool:
        return self._battery_kwh >= self.spec.capacity_kwh - _EPS_KWH

    @property
    def request_met(self) -> bool:
        req = self._energy_request_kwh
        return req is not None and self._drawn_kwh >= req - _EPS_KWH

    @property
    def stop_reason(self) -> str | None:
        if self.gave_up:
            return "interruptions"
        if self.request_met:
            return "request_met"
        if self.is_full:
            return "full"
        return None

    # -- internals -----------------------------------------------------------
    def _protect(self) -> None:
        if not self._interrupted:
            self._interrupted = True
            self.interruptions += 1
            limit = self.spec.max_interruptions
            if limit is not None and self.interruptions >= limit:
                self.gave_up = True

    def _curve_kw(self, soc_pct: float) -> float:
        full_kw = self.spec.ac_max_kw if self.mode == "ac" else self.spec.dc_max_kw
        start = self.spec.taper_start_pct
        if soc_pct <= start or start >= 100:
            return full_kw
        frac = min(1.0, (soc_pct - start) / (100.0 - start))
        return full_kw * (1.0 - frac * (1.0 - self.spec.taper_end_fraction))

    def _room_kwh(self) -> float:
        """Grid-side energy until the battery is full or the request is met."""
        room = (self.spec.capacity_kwh - self._battery_kwh) / self.spec.efficiency
        if self._energy_request_kwh is not None:
            room = min(room, self._energy_request_kwh - self._drawn_kwh)
        return max(0.0, room)

    def _battery_kwh_at(self, drawn_kwh: float) -> float:
        return self._battery_kwh - (self._drawn_kwh - drawn_kwh) * self.spec.efficiency
