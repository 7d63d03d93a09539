"""The composite schedule agrees, minute by minute, with a direct evaluation of the rules
at each instant (random profile sets, fixed seeds): no breakpoint is missed, merging
loses nothing, and the limit is never above any leading limit."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from simulators.profiles import (
    Electrical,
    RateUnit,
    TxContext,
    composite_schedule,
    profile_from_v201,
)
from simulators.profiles.composite import applicable, leads_at, limit_at

T0 = datetime(2026, 3, 1, tzinfo=UTC)
AC = Electrical(voltage_v=230.0, phases=3, max_current_a=32.0, max_power_w=22_080.0)
PURPOSES = [
    "ChargingStationMaxProfile",
    "TxDefaultProfile",
    "TxProfile",
    "ChargingStationExternalConstraints",
]


def random_profile(rng: random.Random, pid: int) -> Any:
    purpose = rng.choice(PURPOSES)
    kind = rng.choice(["Absolute", "Relative", "Recurring"])
    if purpose == "ChargingStationMaxProfile" and kind == "Relative":
        kind = "Absolute"
    unit = rng.choice(["A", "W"])
    periods, start = [], 0
    for _ in range(rng.randint(1, 4)):
        limit = rng.randint(6, 32) if unit == "A" else rng.randint(1500, 22000)
        period: dict[str, Any] = {"startPeriod": start, "limit": float(limit)}
        if rng.random() < 0.3:
            period["numberPhases"] = rng.choice([1, 3])
        periods.append(period)
        start += rng.choice([900, 1800, 3600, 7200])
    schedule: dict[str, Any] = {
        "id": pid,
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": periods,
    }
    if kind != "Relative":
        schedule["startSchedule"] = (T0 + timedelta(minutes=rng.randint(-600, 600))).isoformat()
    if rng.random() < 0.5:
        schedule["duration"] = rng.choice([1800, 3600, 4 * 3600, 20 * 3600])
    data: dict[str, Any] = {
        "id": pid,
        "stackLevel": rng.randint(0, 3),
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": [schedule],
    }
    if kind == "Recurring":
        data["recurrencyKind"] = rng.choice(["Daily", "Weekly"])
    if rng.random() < 0.3:
        data["validFrom"] = (T0 + timedelta(minutes=rng.randint(-300, 900))).isoformat()
    if rng.random() < 0.3:
        data["validTo"] = (T0 + timedelta(minutes=rng.randint(60, 1500))).isoformat()
    evse = 0 if purpose == "ChargingStationMaxProfile" else rng.choice([0, 1])
    if purpose == "TxProfile":
        evse = 1
    return profile_from_v201(data, evse)


@pytest.mark.parametrize("seed", range(30))
def test_composite_matches_pointwise_evaluation(seed: int) -> None:
    rng = random.Random(seed)
    profiles = [random_profile(rng, i) for i in range(1, rng.randint(2, 7))]
    tx = (
        TxContext(T0 - timedelta(minutes=rng.randint(0, 120)), None) if rng.random() < 0.7 else None
    )
    unit: RateUnit = rng.choice(["A", "W"])
    duration_s = 26 * 3600
    comp = composite_schedule(
        profiles, connector_id=1, start=T0, duration_s=duration_s, unit=unit, electrical=AC, tx=tx
    )
    relevant = applicable(profiles, 1, tx)
    assert comp.periods[0].start_s == 0
    for offset in range(0, duration_s, 60):
        t = T0 + timedelta(seconds=offset)
        direct, _, _ = limit_at(relevant, t, unit=unit, electrical=AC, window_start=T0, tx=tx)
        assert comp.limit_at(offset) == pytest.approx(round(direct, 1)), (seed, offset)
        for p, period in leads_at(relevant, t, T0, tx):
            leading = AC.convert(period.limit, p.schedule.unit, period.number_phases, unit)
            assert comp.limit_at(offset) <= round(leading, 1) + 1e-9
    starts = [p.start_s for p in comp.periods]
    assert starts == sorted(set(starts))
    assert all(
        a.limit != b.limit or a.number_phases != b.number_phases
        for a, b in itertools.pairwise(comp.periods)
    )
