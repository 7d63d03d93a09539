"""A stationary battery doing simple peak shaving (optional part of a site).

Sign convention as every meter: positive kW = the battery charges (consumes),
negative = it discharges into the site. It discharges when the rest of the site
draws more than ``shave_above_kw`` and recharges when the site is below
``charge_below_kw``, within its power and energy limits.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BatterySpec:
    capacity_kwh: float = 100.0
    power_kw: float = 50.0
    initial_soc_pct: float = 50.0
    min_soc_pct: float = 10.0
    efficiency: float = 0.92  # round trip, applied on charge
    shave_above_kw: float = 100.0
    charge_below_kw: float = 60.0


class Battery:
    def __init__(self, spec: BatterySpec):
        self.spec = spec
        self.stored_kwh = spec.capacity_kwh * spec.initial_soc_pct / 100.0

    @property
    def soc_pct(self) -> float:
        return 100.0 * self.stored_kwh / self.spec.capacity_kwh

    def step(self, site_kw: float, dt_s: float) -> float:
        """Decide and apply the battery power for ``dt_s``; ``site_kw`` excludes the battery."""
        if dt_s <= 0:
            return 0.0
        h = dt_s / 3600.0
        s = self.spec
        if site_kw > s.shave_above_kw:
            available_kwh = self.stored_kwh - s.capacity_kwh * s.min_soc_pct / 100.0
            power_kw = min(s.power_kw, site_kw - s.shave_above_kw, max(0.0, available_kwh) / h)
            self.stored_kwh -= power_kw * h
            return -power_kw
        if site_kw < s.charge_below_kw:
            room_kwh = s.capacity_kwh - self.stored_kwh
            power_kw = min(
                s.power_kw, s.charge_below_kw - site_kw, max(0.0, room_kwh) / h / s.efficiency
            )
            self.stored_kwh += power_kw * h * s.efficiency
            return power_kw
        return 0.0
