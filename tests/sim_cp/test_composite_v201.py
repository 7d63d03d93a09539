"""Composite schedules, OCPP 2.0.1 (Part 2 §K, "Stacking" and "Combining charging
profile purposes"). The spec's figures are reconstructed as data here. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from simulators.profiles import (
    Electrical,
    TxContext,
    composite_schedule,
    composite_to_v201,
    profile_from_v201,
)

T0 = datetime(2026, 2, 7, tzinfo=UTC)
AC3 = Electrical(voltage_v=230.0, phases=3, max_current_a=32.0, max_power_w=22_080.0)


def prof(
    pid: int,
    purpose: str,
    periods: list[tuple[int, float]],
    *,
    evse: int = 0,
    stack: int = 0,
    kind: str = "Absolute",
    unit: str = "A",
    start: datetime | None = T0,
    duration: int | None = None,
    **extra: Any,
) -> Any:
    sched: dict[str, Any] = {
        "id": pid,
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": lim} for s, lim in periods],
    }
    if start is not None:
        sched["startSchedule"] = start.isoformat().replace("+00:00", "Z")
    if duration is not None:
        sched["duration"] = duration
    data = {
        "id": pid,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": [sched],
        **extra,
    }
    return profile_from_v201(data, evse)


def periods(comp: Any) -> list[tuple[int, float]]:
    return [(p.start_s, p.limit) for p in comp.periods]


def test_combining_purposes_takes_the_lowest_leading_limit() -> None:
    """§K "Combining Charging Profile Purposes": station max 24 A (20 A from 02:00),
    TxDefault 16 A (32 A from 01:00), TxProfile 10 A for the first 30 min only."""
    station_max = prof(1, "ChargingStationMaxProfile", [(0, 24), (7200, 20)])
    default = prof(2, "TxDefaultProfile", [(0, 16), (3600, 32)])
    tx = prof(3, "TxProfile", [(0, 10)], evse=1, duration=1800, transactionId="tx-1")
    comp = composite_schedule(
        [station_max, default, tx],
        connector_id=1,
        start=T0,
        duration_s=4 * 3600,
        unit="A",
        electrical=AC3,
        tx=TxContext(T0, "tx-1"),
    )
    # 0-30 min TxProfile 10 A; then TxDefault 16 A; from 01:00 station max 24 A; 02:00 20 A
    assert periods(comp) == [(0, 10.0), (1800, 16.0), (3600, 24.0), (7200, 20.0)]


def test_stack_level_resolution_peak_override() -> None:
    """Daily base 32 A at stack 0, a 16 A peak override 08:00-18:00 at stack 1."""
    base = prof(100, "TxDefaultProfile", [(0, 32)], kind="Recurring", recurrencyKind="Daily")
    peak = prof(
        101,
        "TxDefaultProfile",
        [(0, 16)],
        stack=1,
        kind="Recurring",
        recurrencyKind="Daily",
        start=T0 + timedelta(hours=8),
        duration=36000,
    )
    comp = composite_schedule(
        [base, peak], connector_id=1, start=T0, duration_s=2 * 86400, unit="A", electrical=AC3
    )
    h = 3600
    assert periods(comp) == [
        (0, 32.0),
        (8 * h, 16.0),
        (18 * h, 32.0),
        (32 * h, 16.0),
        (42 * h, 32.0),
    ]


def test_external_constraints_are_a_purpose_of_their_own() -> None:
    default = prof(1, "TxDefaultProfile", [(0, 32)])
    external = prof(
        2,
        "ChargingStationExternalConstraints",
        [(0, 8)],
        start=T0 + timedelta(hours=1),
        duration=3600,
    )
    comp = composite_schedule(
        [default, external], connector_id=1, start=T0, duration_s=3 * 3600, unit="A", electrical=AC3
    )
    assert periods(comp) == [(0, 32.0), (3600, 8.0), (7200, 32.0)]


def test_evse_specific_default_beats_evse_zero_at_equal_stack_level() -> None:
    zero = prof(1, "TxDefaultProfile", [(0, 20)])
    one = prof(2, "TxDefaultProfile", [(0, 12)], evse=1)
    higher_zero = prof(3, "TxDefaultProfile", [(0, 6)], stack=3)
    assert periods(
        composite_schedule(
            [zero, one], connector_id=1, start=T0, duration_s=60, unit="A", electrical=AC3
        )
    ) == [(0, 12.0)]
    assert periods(
        composite_schedule(
            [zero, one], connector_id=2, start=T0, duration_s=60, unit="A", electrical=AC3
        )
    ) == [(0, 20.0)]
    assert periods(
        composite_schedule(
            [zero, one, higher_zero],
            connector_id=1,
            start=T0,
            duration_s=60,
            unit="A",
            electrical=AC3,
        )
    ) == [(0, 6.0)]


def test_w_and_a_mixed_and_json_output() -> None:
    station_max = prof(1, "ChargingStationMaxProfile", [(0, 11000)], unit="W")
    default = prof(2, "TxDefaultProfile", [(0, 20)])
    comp = composite_schedule(
        [station_max, default], connector_id=1, start=T0, duration_s=600, unit="W", electrical=AC3
    )
    assert periods(comp) == [(0, 11000.0)]  # 20 A x 230 V x 3 = 13.8 kW > 11 kW
    out = composite_to_v201(comp, 1)
    assert out == {
        "evseId": 1,
        "duration": 600,
        "scheduleStart": "2026-02-07T00:00:00Z",
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
    }


def test_tx_profile_of_another_transaction_does_not_apply() -> None:
    default = prof(1, "TxDefaultProfile", [(0, 20)])
    tx = prof(2, "TxProfile", [(0, 6)], evse=1, transactionId="other")
    comp = composite_schedule(
        [default, tx],
        connector_id=1,
        start=T0,
        duration_s=60,
        unit="A",
        electrical=AC3,
        tx=TxContext(T0, "mine"),
    )
    assert periods(comp) == [(0, 20.0)]


def test_valid_from_in_the_future_reverts_to_default_until_then() -> None:
    new = prof(1, "TxDefaultProfile", [(0, 10)], validFrom=(T0 + timedelta(minutes=15)).isoformat())
    comp = composite_schedule(
        [new], connector_id=1, start=T0, duration_s=3600, unit="A", electrical=AC3
    )
    assert periods(comp) == [(0, 32.0), (900, 10.0)]
