"""The site's electrical balance and its meters (pure; publishing is in publisher.py).

Sign convention (docs/meter-format.md): positive kW is consumption / import.
``main = base + ev + dcfc + pv + battery`` where ``pv <= 0`` (generation) and
``battery`` is positive while charging, negative while discharging. The ``dcfc``
meter is the DC fast charger alone; ``ev`` is all other charging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from evcommon.contract import SiteMeterReading
from simulators.site.baseload import BaseLoadSpec, base_load_kw
from simulators.site.battery import Battery, BatterySpec
from simulators.site.pv import PvSpec, pv_power_kw


@dataclass(frozen=True)
class SitePower:
    """Average power of each part over one step ending at ``ts``."""

    ts: datetime
    base_kw: float
    ev_kw: float
    dcfc_kw: float
    pv_kw: float  # <= 0
    battery_kw: float

    @property
    def main_kw(self) -> float:
        return self.base_kw + self.ev_kw + self.dcfc_kw + self.pv_kw + self.battery_kw


@dataclass
class EnergyRegister:
    import_kwh: float = 0.0
    export_kwh: float = 0.0

    def add(self, power_kw: float, dt_s: float) -> None:
        e = power_kw * dt_s / 3600.0
        if e >= 0:
            self.import_kwh += e
        else:
            self.export_kwh -= e


@dataclass
class SiteModel:
    """Base load, PV and battery of a site; EV and DCFC power come from the stations."""

    tz: ZoneInfo
    base: BaseLoadSpec
    pv: PvSpec | None = None
    battery_spec: BatterySpec | None = None
    has_dcfc: bool = True
    registers: dict[str, EnergyRegister] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.battery = Battery(self.battery_spec) if self.battery_spec else None
        for name in self.meter_names:
            self.registers.setdefault(name, EnergyRegister())

    @property
    def meter_names(self) -> list[str]:
        names = ["main"]
        if self.has_dcfc:
            names.append("dcfc")
        if self.pv is not None:
            names.append("pv")
        if self.battery_spec is not None:
            names.append("battery")
        return names

    def step(self, start: datetime, end: datetime, ev_kw: float, dcfc_kw: float) -> SitePower:
        """Advance from ``start`` to ``end`` with the stations' average powers."""
        dt_s = (end - start).total_seconds()
        mid = start + (end - start) / 2
        base_kw = base_load_kw(self.base, mid, self.tz)
        pv_kw = -pv_power_kw(self.pv, mid) if self.pv is not None else 0.0
        battery_kw = 0.0
        if self.battery is not None:
            battery_kw = self.battery.step(base_kw + ev_kw + dcfc_kw + pv_kw, dt_s)
        power = SitePower(end, base_kw, ev_kw, dcfc_kw, pv_kw, battery_kw)
        parts = {"main": power.main_kw, "dcfc": dcfc_kw, "pv": pv_kw, "battery": battery_kw}
        for name, register in self.registers.items():
            register.add(parts[name], dt_s)
        return power

    def readings(self, power: SitePower) -> dict[str, SiteMeterReading]:
        parts = {
            "main": power.main_kw,
            "dcfc": power.dcfc_kw,
            "pv": power.pv_kw,
            "battery": power.battery_kw,
        }
        out: dict[str, SiteMeterReading] = {}
        for name, reg in self.registers.items():
            soc = self.battery.soc_pct if name == "battery" and self.battery else None
            out[name] = SiteMeterReading(
                ts=power.ts,
                power_kw=round(parts[name], 4),
                energy_import_kwh=round(reg.import_kwh, 5),
                energy_export_kwh=round(reg.export_kwh, 5),
                soc_pct=None if soc is None else round(soc, 3),
            )
        return out
