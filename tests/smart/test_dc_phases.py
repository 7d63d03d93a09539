"""DC chargers (P = V x I, no numberPhases) and the phase count learned from
several meter samples, not one (pure: no network)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from csms.smart import plan, setting
from csms.smart.capabilities import Capabilities
from csms.smart.config import SmartChargingSection
from csms.smart.electrical import (
    PhaseTracker,
    current_type_from_meter,
    current_type_from_needs,
)
from csms.smart.profiles import set_profile_request
from csms.smart.service import SmartCharging
from csms.smart.store import ProfileStore
from evcommon import contract
from evcommon.clock import ManualClock

A_ONLY = Capabilities(frozenset({"A"}), 1, 24)


def service(**settings: object) -> SmartCharging:
    return SmartCharging(
        SmartChargingSection(**settings),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        ProfileStore(None),
        ManualClock(),
    )


def meter(station_id: str = "S", **kw: object) -> contract.MeterValuesEvent:
    return contract.MeterValuesEvent(station_id=station_id, connector_id=1, **kw)  # type: ignore[arg-type]


def phase_sample(l1: float, l2: float, l3: float) -> contract.MeterValuesEvent:
    return meter(current_a_phases={"L1": l1, "L2": l2, "L3": l3})


def prepared_for(svc: SmartCharging, station_id: str, power_kw: float) -> setting.Prepared:
    now = svc.clock.now()
    cmd = contract.SetLimit(
        correlation_id="c",
        station_id=station_id,
        connector_id=1,
        purpose="tx_default",
        limit_kw=power_kw,
        valid_to=now + timedelta(hours=1),
    )
    periods = plan.validate(cmd, now)
    return setting.prepare(svc, cmd, periods, A_ONLY, fallback=True)


def test_dc_station_negotiating_amps_gets_power_over_voltage() -> None:
    svc = service()
    # a DC charger's meter: no per-phase values, the DC voltage (one sample, no current)
    svc.observe_meter(meter("DC1", power_kw=20.0, voltage_v=400.0))
    p = prepared_for(svc, "DC1", 20.0)
    assert p.unit == "A"
    assert p.elec.current_type == "DC"
    assert p.schedule.periods[0].limit == pytest.approx(50.0)  # 20 kW / 400 V, not 16.6 A
    spec = plan.build_spec(
        contract.SetLimit(
            correlation_id="c", station_id="DC1", connector_id=1, purpose="tx_default", limit_kw=20
        ),
        "tx_default",
        unit=p.unit,
        schedule=p.schedule,
        level=p.level,
        id_base=1,
        number_phases=p.elec.number_phases,
        transaction_id=None,
        start=p.now,
    )
    for version in ("1.6", "2.0.1"):
        payload = set_profile_request(spec, version, p.now)  # type: ignore[arg-type]
        assert "numberPhases" not in str(payload)


def test_dc_from_config_and_from_ev_needs() -> None:
    svc = service(stations={"CFG": {"current_type": "DC", "voltage_v": 500}})
    p = prepared_for(svc, "CFG", 25.0)
    assert (p.elec.current_type, p.elec.phases_source) == ("DC", "dc")
    assert p.schedule.periods[0].limit == pytest.approx(50.0)
    svc.on_ev_needs(
        contract.EVChargingNeeds(station_id="EV", connector_id=1, energy_transfer_mode="DC")
    )
    assert svc.electrical("EV", None, 1).current_type == "DC"


def test_ac_station_stays_three_phase_ac() -> None:
    svc = service()
    svc.observe_meter(meter("AC", voltage_v=230.0, current_a_phases={"L1": 16, "L2": 16, "L3": 16}))
    p = prepared_for(svc, "AC", 11.04)
    assert p.elec.current_type == "AC"
    assert p.schedule.periods[0].limit == pytest.approx(16.0)
    assert current_type_from_meter(meter(voltage_v=230.0, current_a=10.0)) is None
    found = current_type_from_needs(
        contract.EVChargingNeeds(
            station_id="X", connector_id=1, energy_transfer_mode="AC_three_phase"
        )
    )
    assert found is not None and found[0] == "AC"


def test_noisy_l3_does_not_flip_the_phase_count() -> None:
    svc = service()
    for _ in range(3):
        svc.observe_meter(phase_sample(16, 16, 16))
    assert svc.electrical("S", None, 1).phases == 3
    assert svc.electrical("S", None, 1).phases_source == "meter"
    # L3 dips below 0.5 A now and then: never numberPhases 2
    noisy = [(16, 16, 0.18), (16, 16, 16), (16, 16, 0.2), (16, 16, 0.3), (16, 16, 16)]
    for sample in noisy:
        svc.observe_meter(phase_sample(*sample))
        e = svc.electrical("S", None, 1)
        assert (e.phases, e.number_phases) == (3, None)
    # four samples in a row of 2 phases are still not enough
    for _ in range(4):
        svc.observe_meter(phase_sample(16, 16, 0.1))
    assert svc.electrical("S", None, 1).phases == 3
    svc.observe_meter(phase_sample(16, 16, 0.1))  # the fifth
    e = svc.electrical("S", None, 1)
    assert (e.phases, e.number_phases, e.phases_source) == (2, 2, "meter")


def test_phase_tracker_needs_consecutive_samples() -> None:
    t = PhaseTracker()
    assert [t.observe(n) for n in (1, 1, 3, 1, 1)] == [False] * 5
    assert t.learned is None
    assert t.observe(1) is True and t.learned == 1
    assert t.observe(None) is False and t.learned == 1  # no information
    assert [t.observe(3) for _ in range(3)] == [False, False, True]
    assert t.learned == 3


def test_phases_source_default_config_request() -> None:
    svc = service(stations={"EU": {"phases": 3}})
    assert svc.electrical("X", None).phases_source == "default"
    assert svc.electrical("EU", None).phases_source == "config"
    assert svc.electrical("X", 2).phases_source == "request"
    svc.on_ev_needs(
        contract.EVChargingNeeds(
            station_id="X", connector_id=1, energy_transfer_mode="AC_single_phase"
        )
    )
    assert (svc.electrical("X", None, 1).phases, svc.electrical("X", None, 1).phases_source) == (
        1,
        "ev_needs",
    )


def test_line_to_line_ac_meter_is_not_dc() -> None:
    # 3-phase AC, 400 V line-to-line, 16 A: P = sqrt(3) x 400 x 16 = 11.09 kW
    assert current_type_from_meter(meter(power_kw=11.09, voltage_v=400.0, current_a=16.0)) is None
    found = current_type_from_meter(meter(power_kw=20.0, voltage_v=400.0, current_a=50.0))
    assert found is not None and found[0] == "DC"
