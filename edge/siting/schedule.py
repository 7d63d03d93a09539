"""The charging schedule siting works on: who charges where, when, how much.

Time is in absolute slots of ``interval_s`` seconds (``slot = epoch // interval_s``),
so a schedule stays valid as the clock moves on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from edge.siting.network import Charger


def slot_of(ts: datetime, interval_s: int) -> int:
    """The slot containing ``ts`` (floor)."""
    return int(ts.timestamp()) // interval_s


def slot_ceil(ts: datetime, interval_s: int) -> int:
    return math.ceil(ts.timestamp() / interval_s)


def slot_start(slot: int, interval_s: int) -> datetime:
    return datetime.fromtimestamp(slot * interval_s, UTC)


@dataclass(frozen=True)
class Arrival:
    """An incoming vehicle (the request of subprocess 405)."""

    vehicle_id: str
    arrival: datetime
    departure: datetime
    energy_kwh: float | None = None
    battery_kwh: float | None = None
    soc_arrival_pct: float | None = None
    soc_departure_pct: float | None = None
    max_power_kw: float = 350.0
    flexible_departure: bool = False
    group: str = "fleet"
    site_id: str | None = None  # preferred site; None: any site of the controller

    def energy_needed_kwh(self) -> float:
        if self.energy_kwh is not None:
            return self.energy_kwh
        if None in (self.battery_kwh, self.soc_arrival_pct, self.soc_departure_pct):
            raise ValueError(f"{self.vehicle_id}: give energy_kwh or battery_kwh with both SOCs")
        assert self.battery_kwh is not None and self.soc_arrival_pct is not None
        assert self.soc_departure_pct is not None
        return max(0.0, (self.soc_departure_pct - self.soc_arrival_pct) / 100 * self.battery_kwh)


@dataclass
class Entry:
    """One vehicle in the schedule: its charger, window (slots) and power per slot."""

    vehicle_id: str
    charger: Charger
    start_slot: int
    end_slot: int  # exclusive
    energy_kwh: float
    max_power_kw: float
    flexible: bool = False
    needs_fast: bool = False
    power_kw: dict[int, float] = field(default_factory=dict)

    def overlaps(self, start_slot: int, end_slot: int) -> bool:
        return self.start_slot < end_slot and start_slot < self.end_slot

    def shifted(self, to_slot: int) -> Entry:
        delta = to_slot - self.start_slot
        return replace(
            self,
            start_slot=to_slot,
            end_slot=self.end_slot + delta,
            power_kw={s + delta: p for s, p in self.power_kw.items()},
        )


@dataclass
class Schedule:
    interval_s: int = 900
    entries: dict[str, Entry] = field(default_factory=dict)

    def copy(self) -> Schedule:
        return Schedule(
            self.interval_s,
            {k: replace(e, power_kw=dict(e.power_kw)) for k, e in self.entries.items()},
        )

    def busy(self, start_slot: int, end_slot: int) -> set[str]:
        """Charger keys held by someone during [start_slot, end_slot)."""
        return {e.charger.key for e in self.entries.values() if e.overlaps(start_slot, end_slot)}

    def node_power_kw(self, nodes: list[str], slots: range) -> dict[str, list[float]]:
        out = {n: [0.0] * len(slots) for n in nodes}
        for e in self.entries.values():
            if e.charger.node not in out:
                continue
            row = out[e.charger.node]
            for i, s in enumerate(slots):
                row[i] += e.power_kw.get(s, 0.0)
        return out

    def drop_before(self, slot: int) -> None:
        """Forget vehicles whose window ended before ``slot``."""
        for key in [k for k, e in self.entries.items() if e.end_slot <= slot]:
            del self.entries[key]

    def window_times(self, entry: Entry) -> tuple[datetime, datetime]:
        return slot_start(entry.start_slot, self.interval_s), slot_start(
            entry.end_slot, self.interval_s
        )


def hours(slots: int, interval_s: int) -> float:
    return slots * interval_s / 3600.0


def td_minutes(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)
