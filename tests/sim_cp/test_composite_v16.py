"""Composite schedules, OCPP 1.6 (§3.13). Pure: no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from simulators.profiles import (
    Electrical,
    TxContext,
    composite_schedule,
    profile_from_v16,
)

T0 = datetime(2026, 7, 1, tzinfo=UTC)
# 3-phase 230 V 16 A station: 11.04 kW
AC3 = Electrical(voltage_v=230.0, phases=3, max_current_a=16.0, max_power_w=11_040.0)
AC3_BIG = Electrical(voltage_v=230.0, phases=3, max_current_a=63.0, max_power_w=43_470.0)


def prof(
    pid: int,
    purpose: str,
    periods: list[tuple[int, float] | tuple[int, float, int]],
    *,
    stack: int = 0,
    kind: str = "Absolute",
    unit: str = "W",
    start: datetime | None = T0,
    duration: int | None = None,
    connector: int = 1,
    **extra: Any,
) -> Any:
    sched: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [
            {"startPeriod": p[0], "limit": p[1], **({"numberPhases": p[2]} if len(p) > 2 else {})}
            for p in periods
        ],
    }
    if start is not None:
        sched["startSchedule"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    if duration is not None:
        sched["duration"] = duration
    for key in ("minChargingRate",):
        if key in extra:
            sched[key] = extra.pop(key)
    data = {
        "chargingProfileId": pid,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": sched,
        **extra,
    }
    return profile_from_v16(data, connector)


def periods(comp: Any) -> list[tuple[int, float]]:
    return [(p.start_s, p.limit) for p in comp.periods]


def test_spec_example_3_13_7_daily_default_profile() -> None:
    """§3.13.7: a daily TxDefaultProfile limiting to 6 kW between 08:00 and 20:00
    (11 kW otherwise), startSchedule 2013-01-01T00:00Z, numberPhases 3."""
    p = prof(
        100,
        "TxDefaultProfile",
        [(0, 11000, 3), (28800, 6000, 3), (72000, 11000, 3)],
        kind="Recurring",
        recurrencyKind="Daily",
        start=datetime(2013, 1, 1, tzinfo=UTC),
        duration=86400,
        connector=0,
    )
    start = T0 + timedelta(hours=6)  # 13 years later, 06:00
    comp = composite_schedule(
        [p], connector_id=1, start=start, duration_s=86400, unit="W", electrical=AC3_BIG
    )
    assert periods(comp) == [(0, 11000.0), (7200, 6000.0), (50400, 11000.0)]
    amps = composite_schedule(
        [p], connector_id=1, start=start, duration_s=86400, unit="A", electrical=AC3_BIG
    )
    # 11000 W / (230 V x 3) = 15.94 A; 6000 W -> 8.70 A
    assert periods(amps) == [(0, 15.9), (7200, 8.7), (50400, 15.9)]
    assert comp.periods[0].number_phases == 3


def test_stacking_exception_with_validity_window() -> None:
    """§3.13.2: a weekly base profile at stack 0, a holiday exception at stack 1
    valid for one day only."""
    base = prof(
        1, "TxDefaultProfile", [(0, 7000)], kind="Recurring", recurrencyKind="Weekly", connector=0
    )
    holiday = prof(
        2,
        "TxDefaultProfile",
        [(0, 2000)],
        stack=1,
        connector=0,
        validFrom="2026-07-02T00:00:00Z",
        validTo="2026-07-03T00:00:00Z",
    )
    comp = composite_schedule(
        [base, holiday], connector_id=1, start=T0, duration_s=3 * 86400, unit="W", electrical=AC3
    )
    assert periods(comp) == [(0, 7000.0), (86400, 2000.0), (2 * 86400, 7000.0)]


def test_higher_stack_with_duration_falls_back_to_lower() -> None:
    low = prof(1, "TxDefaultProfile", [(0, 8000)], connector=0)
    high = prof(2, "TxDefaultProfile", [(0, 3000)], stack=2, duration=3600, connector=0)
    comp = composite_schedule(
        [low, high], connector_id=1, start=T0, duration_s=7200, unit="W", electrical=AC3
    )
    assert periods(comp) == [(0, 3000.0), (3600, 8000.0)]


def test_highest_stack_without_duration_never_falls_back() -> None:
    low = prof(1, "TxDefaultProfile", [(0, 8000)], connector=0)
    high = prof(2, "TxDefaultProfile", [(0, 3000)], stack=2, connector=0)
    comp = composite_schedule(
        [low, high], connector_id=1, start=T0, duration_s=86400, unit="W", electrical=AC3
    )
    assert periods(comp) == [(0, 3000.0)]


def test_tx_profile_overrules_tx_default_only_for_its_transaction() -> None:
    default = prof(1, "TxDefaultProfile", [(0, 9000)], connector=0)
    tx = prof(2, "TxProfile", [(0, 4000)], transactionId=7)
    args: dict[str, Any] = {
        "connector_id": 1,
        "start": T0,
        "duration_s": 600,
        "unit": "W",
        "electrical": AC3,
    }
    assert periods(composite_schedule([default, tx], **args, tx=TxContext(T0, "7"))) == [
        (0, 4000.0)
    ]
    assert periods(composite_schedule([default, tx], **args, tx=TxContext(T0, "8"))) == [
        (0, 9000.0)
    ]
    assert periods(composite_schedule([default, tx], **args)) == [(0, 9000.0)]


def test_tx_profile_above_tx_default_still_overrules() -> None:
    # TxProfile replaces TxDefault (it is not a min of both)
    default = prof(1, "TxDefaultProfile", [(0, 3000)], stack=5, connector=0)
    tx = prof(2, "TxProfile", [(0, 6000)])
    comp = composite_schedule(
        [default, tx],
        connector_id=1,
        start=T0,
        duration_s=60,
        unit="W",
        electrical=AC3,
        tx=TxContext(T0),
    )
    assert periods(comp) == [(0, 6000.0)]


def test_charge_point_max_profile_caps_everything() -> None:
    cp_max = prof(1, "ChargePointMaxProfile", [(0, 10), (1800, 6)], unit="A", connector=0)
    tx = prof(2, "TxProfile", [(0, 7000)])
    comp = composite_schedule(
        [cp_max, tx],
        connector_id=1,
        start=T0,
        duration_s=3600,
        unit="W",
        electrical=AC3,
        tx=TxContext(T0),
    )
    # 10 A x 230 V x 3 = 6900 W < 7000 W; 6 A -> 4140 W
    assert periods(comp) == [(0, 6900.0), (1800, 4140.0)]


def test_charge_point_max_profile_on_a_connector_is_ignored() -> None:
    bogus = prof(1, "ChargePointMaxProfile", [(0, 1000)], connector=1)
    comp = composite_schedule(
        [bogus], connector_id=1, start=T0, duration_s=60, unit="W", electrical=AC3
    )
    assert periods(comp) == [(0, 11040.0)]  # hardware limit only


def test_relative_profile_starts_at_transaction_start() -> None:
    rel = prof(1, "TxProfile", [(0, 2000), (3600, 5000)], kind="Relative", start=None)
    tx_start = T0 - timedelta(minutes=30)
    comp = composite_schedule(
        [rel],
        connector_id=1,
        start=T0,
        duration_s=7200,
        unit="W",
        electrical=AC3,
        tx=TxContext(tx_start),
    )
    assert periods(comp) == [(0, 2000.0), (1800, 5000.0)]


def test_connector_zero_default_applies_to_all_and_specific_overrides() -> None:
    all_ = prof(1, "TxDefaultProfile", [(0, 5000)], connector=0)
    only2 = prof(2, "TxDefaultProfile", [(0, 2500)], connector=2)
    for cid, expected in ((1, 5000.0), (2, 2500.0), (3, 5000.0)):
        comp = composite_schedule(
            [all_, only2], connector_id=cid, start=T0, duration_s=60, unit="W", electrical=AC3
        )
        assert periods(comp) == [(0, expected)]


def test_number_phases_in_amp_conversion() -> None:
    one = prof(1, "TxDefaultProfile", [(0, 16, 1)], unit="A", connector=0)
    three = prof(1, "TxDefaultProfile", [(0, 16)], unit="A", connector=0)  # absent = 3
    w1 = composite_schedule(
        [one], connector_id=1, start=T0, duration_s=60, unit="W", electrical=AC3_BIG
    )
    w3 = composite_schedule(
        [three], connector_id=1, start=T0, duration_s=60, unit="W", electrical=AC3_BIG
    )
    assert periods(w1) == [(0, 3680.0)] and w1.periods[0].number_phases == 1
    assert periods(w3) == [(0, 11040.0)]
    single = Electrical(voltage_v=240.0, phases=1, max_current_a=32.0, max_power_w=7680.0)
    w_single = composite_schedule(
        [three], connector_id=1, start=T0, duration_s=60, unit="W", electrical=single
    )
    assert periods(w_single) == [(0, 3840.0)]  # a 1-phase station uses one phase


def test_future_start_and_valid_to_leave_hardware_limit_outside() -> None:
    later = prof(
        1,
        "TxDefaultProfile",
        [(0, 4000)],
        start=T0 + timedelta(hours=1),
        connector=0,
        validTo="2026-07-01T03:00:00Z",
    )
    comp = composite_schedule(
        [later], connector_id=1, start=T0, duration_s=4 * 3600, unit="W", electrical=AC3
    )
    assert periods(comp) == [(0, 11040.0), (3600, 4000.0), (3 * 3600, 11040.0)]


def test_min_charging_rate_is_reported_in_the_asked_unit() -> None:
    p = prof(1, "TxDefaultProfile", [(0, 16)], unit="A", connector=0, minChargingRate=6.0)
    comp = composite_schedule(
        [p], connector_id=1, start=T0, duration_s=60, unit="W", electrical=AC3
    )
    assert comp.min_rate == 4140.0


def test_weekly_recurrence_repeats_backwards_and_forwards() -> None:
    # starts on a Wednesday in the future; the recurrence still applies the week before
    p = prof(
        1,
        "TxDefaultProfile",
        [(0, 1000), (86400, 6000)],
        kind="Recurring",
        recurrencyKind="Weekly",
        start=T0 + timedelta(days=7),
        connector=0,
    )
    comp = composite_schedule(
        [p], connector_id=1, start=T0, duration_s=2 * 86400, unit="W", electrical=AC3
    )
    assert periods(comp) == [(0, 1000.0), (86400, 6000.0)]


def test_connector_zero_composite_is_the_station_limit() -> None:
    cp_max = prof(1, "ChargePointMaxProfile", [(0, 20000)], connector=0)
    default = prof(2, "TxDefaultProfile", [(0, 1000)], connector=0)
    comp = composite_schedule(
        [cp_max, default], connector_id=0, start=T0, duration_s=60, unit="W", electrical=AC3_BIG
    )
    assert periods(comp) == [(0, 20000.0)]
