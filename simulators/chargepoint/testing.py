"""A trivial EV for tests: constant maximum power, optional battery-protection cut-off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class ConstantEv:
    """Draws ``min(offered, max_kw)``; nothing when offered a non-zero power below
    ``cutoff_kw`` (the LBNL field behaviour). Stops wanting power after ``capacity_kwh``."""

    max_kw: float = 7.2
    cutoff_kw: float = 0.0
    vehicle_id: str = "EV-1"
    id_token: str = "TAG-1"
    phases: int = 1
    capacity_kwh: float | None = None
    soc_start_pct: float | None = None
    departure_time: datetime | None = None
    energy_request_kwh: float | None = None
    energy_drawn_kwh: float = 0.0

    def max_power_kw(self) -> float:
        return 0.0 if self.wants_to_stop else self.max_kw

    def step(self, offered_kw: float, dt_s: float) -> float:
        if self.wants_to_stop or offered_kw < self.cutoff_kw:
            return 0.0
        drawn_kw = max(0.0, min(offered_kw, self.max_kw))
        if self.capacity_kwh is not None:
            room_kwh = self.capacity_kwh - self.energy_drawn_kwh
            drawn_kw = min(drawn_kw, room_kwh * 3600.0 / dt_s) if dt_s > 0 else 0.0
        self.energy_drawn_kwh += drawn_kw * dt_s / 3600.0
        return drawn_kw

    @property
    def soc_pct(self) -> float | None:
        if self.soc_start_pct is None or not self.capacity_kwh:
            return None
        return min(100.0, self.soc_start_pct + 100.0 * self.energy_drawn_kwh / self.capacity_kwh)

    @property
    def wants_to_stop(self) -> bool:
        return self.capacity_kwh is not None and self.energy_drawn_kwh >= self.capacity_kwh - 1e-9
