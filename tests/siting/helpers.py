"""Small builders for the siting tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from edge.siting.network import Charger
from edge.siting.schedule import Arrival

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def arrival(
    vehicle_id: str,
    *,
    hours: float = 8.0,
    energy_kwh: float = 100.0,
    max_power_kw: float = 350.0,
    flexible: bool = False,
    start: datetime = NOW,
) -> Arrival:
    return Arrival(
        vehicle_id=vehicle_id,
        arrival=start,
        departure=start + timedelta(hours=hours),
        energy_kwh=energy_kwh,
        max_power_kw=max_power_kw,
        flexible_departure=flexible,
    )


def slow(node: str, connector: int = 1, kw: float = 50.0) -> Charger:
    return Charger(f"{node}-s", connector, node, kw)


def fast(node: str, kw: float = 350.0) -> Charger:
    return Charger(f"{node}-f", 1, node, kw, fast=True)
