"""Pure tests: the limit in force on a connector, over-limit episodes, the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.bridge.outbox import Outbox, Outgoing
from csms.smart.config import SmartChargingSection
from csms.smart.monitor import OverLimitMonitor, effective_limit
from csms.smart.profiles import Period
from csms.smart.store import Record
from evcommon import contract

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def rec(pid: int, connector: int, purpose: str, kw: float, level: int = 1, **kw_: object) -> Record:
    fields: dict[str, object] = dict(
        station_id="CP",
        profile_id=pid,
        connector_id=connector,
        purpose=purpose,
        stack_level=level,
        rate_unit="W",
        ocpp_version="1.6",
        periods_kw=[Period(0, kw)],
        schedule_start=T0,
        valid_to=None,
        transaction_id=None,
        request={},
        installed_at=T0,
    )
    fields.update(kw_)
    return Record(**fields)  # type: ignore[arg-type]


def test_effective_limit_precedence() -> None:
    now = T0 + timedelta(minutes=1)
    default0 = rec(1, 0, "tx_default", 6.0, level=0)
    own = rec(2, 1, "tx_default", 4.0)
    tx = rec(3, 1, "tx", 5.0)
    cap = rec(4, 0, "station_max", 4.5)
    assert effective_limit([default0], 1, now, "T1") == (6.0, default0)
    assert effective_limit([default0, own], 1, now, "T1") == (4.0, own)
    assert effective_limit([default0, own, tx], 1, now, "T1") == (5.0, tx)  # TxProfile wins
    assert effective_limit([default0, own, tx, cap], 1, now, "T1") == (4.5, cap)  # max caps it
    assert effective_limit([default0, own], 2, now, "T1") == (6.0, default0)
    assert effective_limit([own, cap], 0, now, "T1") == (4.5, cap)
    expired = rec(5, 1, "tx", 1.0, valid_to=T0)
    assert effective_limit([own, expired], 1, now, "T1") == (4.0, own)


async def test_over_limit_alarm_once_per_episode() -> None:
    settings = SmartChargingSection(over_limit_grace_s=60)
    records = [rec(1, 1, "tx_default", 3.3)]
    alarms: list[contract.Alarm] = []
    mon = OverLimitMonitor(settings, lambda _sid: records, alarms.append)

    def meter(kw: float) -> contract.MeterValuesEvent:
        return contract.MeterValuesEvent(station_id="CP", connector_id=1, power_kw=kw)

    await mon.check(meter(6.6), T0 + timedelta(seconds=30))  # within the grace period
    assert alarms == []
    await mon.check(meter(6.6), T0 + timedelta(seconds=90))
    await mon.check(meter(6.6), T0 + timedelta(seconds=150))
    assert len(alarms) == 1 and alarms[0].kind == "over_limit"
    assert alarms[0].measured_kw == 6.6 and alarms[0].limit_kw == 3.3
    await mon.check(meter(3.4), T0 + timedelta(seconds=210))  # within 5 % + 0.2 kW
    await mon.check(meter(6.6), T0 + timedelta(seconds=270))
    assert len(alarms) == 2


def test_outbox_coalesces_state_and_bounds_events() -> None:
    box = Outbox(max_events=10)
    for i in range(3):
        box.put_state("s/a", f"{i}".encode())
    for i in range(12):
        box.put_event(Outgoing("e", f"{i}".encode()))
    assert box.dropped == 2
    items = []
    while (item := box.pop()) is not None:
        items.append(item)
    assert [i.payload for i in items[:10]] == [f"{i}".encode() for i in range(2, 12)]
    assert items[10] == Outgoing("s/a", b"2", retain=True)  # only the latest state
    box.republish_all()
    assert box.pop() == Outgoing("s/a", b"2", retain=True)
    box.push_back(Outgoing("e", b"x"))
    assert box.pop() == Outgoing("e", b"x")
    assert box.pop() is None


def test_voltage_and_phases_precedence() -> None:
    from csms.smart.service import SmartCharging, phases_from_meter
    from csms.smart.store import ProfileStore
    from evcommon.clock import ManualClock

    settings = SmartChargingSection(
        default_voltage_v=240,
        default_phases=1,
        stations={
            "L1": {"voltage_v": 120},
            "EU": {"voltage_v": 230, "phases": 3},
            "OLD": {"rate_unit": "A"},
        },
    )
    svc = SmartCharging(settings, None, ProfileStore(None), ManualClock())  # type: ignore[arg-type]
    e = svc.electrical("ANY", None)
    assert (e.voltage_v, e.phases, e.number_phases) == (240, 1, 1)
    assert svc.electrical("L1", None).voltage_v == 120
    eu = svc.electrical("EU", None)
    assert (eu.voltage_v, eu.phases, eu.number_phases) == (230, 3, None)  # 3: not sent
    # OLD sets only its unit: what it reports (over several samples) wins over the defaults
    for _ in range(3):
        svc.observe_meter(
            contract.MeterValuesEvent(
                station_id="OLD", connector_id=1, power_kw=11.04, voltage_v=230, current_a=16
            )
        )
    old = svc.electrical("OLD", None, 1)
    assert (old.voltage_v, old.phases) == (230, 3)
    assert svc.electrical("OLD", 2, 1).number_phases == 2  # the request wins
    assert (
        phases_from_meter(
            contract.MeterValuesEvent(
                station_id="X", connector_id=1, current_a_phases={"L1": 16.0, "L2": 0.0, "L3": 0.0}
            )
        )
        == 1
    )
    assert (
        phases_from_meter(
            contract.MeterValuesEvent(
                station_id="X", connector_id=1, power_kw=0.1, voltage_v=230, current_a=0.3
            )
        )
        is None
    )
