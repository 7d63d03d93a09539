"""The priority index of seed 002 and the base-load forecast."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from edge.planning import VehicleRequest

DEFAULT_BATTERY_KWH = 60.0


def priority_index(vehicle: VehicleRequest, fleet: Sequence[VehicleRequest]) -> float:
    """Seed 002: long stays and small batteries first, unless the owner pays for fast.

    0..1 from half stay length (relative to the longest stay) and half battery
    smallness (relative to the largest battery); owners who pay for fast charging
    get 1 added, so they rank above everyone else.
    """
    stays = [max((v.departure - v.arrival).total_seconds(), 0.0) for v in fleet] or [1.0]
    batteries = [v.battery_kwh or DEFAULT_BATTERY_KWH for v in fleet] or [DEFAULT_BATTERY_KWH]
    stay = max((vehicle.departure - vehicle.arrival).total_seconds(), 0.0)
    battery = vehicle.battery_kwh or DEFAULT_BATTERY_KWH
    index = 0.5 * stay / max(max(stays), 1.0) + 0.5 * (1.0 - battery / max(max(batteries), 1.0))
    return index + (1.0 if vehicle.pays_for_fast else 0.0)


def same_weekday_forecast(
    history: Iterable[tuple[datetime, float]],
    start: datetime,
    n_intervals: int,
    *,
    interval_s: int = 900,
    weeks: int = 4,
    timezone: str = "UTC",
) -> list[float]:
    """Base-load forecast: per interval, the mean of the same weekday and local time
    of day over the last ``weeks`` weeks of ``history`` (aware time, kW).

    Slots with no history take the mean of all recent history (0 when empty).
    """
    zone = ZoneInfo(timezone)
    since = start - timedelta(weeks=weeks)
    sums: dict[tuple[int, int], float] = defaultdict(float)
    counts: dict[tuple[int, int], int] = defaultdict(int)
    total, count = 0.0, 0
    slot_min = interval_s // 60
    for when, power_kw in history:
        if not since <= when < start:
            continue
        local = when.astimezone(zone)
        key = (local.weekday(), (local.hour * 60 + local.minute) // slot_min)
        sums[key] += power_kw
        counts[key] += 1
        total += power_kw
        count += 1
    fallback = total / count if count else 0.0
    out = []
    for i in range(n_intervals):
        local = (start + timedelta(seconds=i * interval_s)).astimezone(zone)
        key = (local.weekday(), (local.hour * 60 + local.minute) // slot_min)
        out.append(sums[key] / counts[key] if counts.get(key) else fallback)
    return out
