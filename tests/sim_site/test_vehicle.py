"""The vehicle model: charging curve, limits, efficiency, the 1.5 kW battery protection."""

from __future__ import annotations

import pytest

from simulators.ports import EvLoad
from simulators.vehicle import Vehicle, VehicleSpec

SPEC = VehicleSpec(name="t", capacity_kwh=40.0, ac_max_kw=7.2, dc_max_kw=50.0, efficiency=0.9)


def test_is_an_evload() -> None:
    ev: EvLoad = Vehicle("ev1", SPEC, arrival_soc_pct=20)
    assert ev.vehicle_id == "ev1" and ev.id_token == "ev1" and ev.phases == 1


def test_draws_min_of_offer_and_onboard_limit() -> None:
    ev = Vehicle("ev1", SPEC, arrival_soc_pct=20)
    assert ev.step(11.0, 60) == pytest.approx(7.2)
    assert ev.step(3.0, 60) == pytest.approx(3.0)
    assert ev.energy_drawn_kwh == pytest.approx((7.2 + 3.0) / 60)
    # efficiency: the battery gets 90 % of the grid energy
    assert ev.soc_pct == pytest.approx(20 + 100 * 0.9 * (10.2 / 60) / 40)


def test_dc_mode_uses_dc_limit() -> None:
    ev = Vehicle("ev1", SPEC, arrival_soc_pct=20, mode="dc")
    assert ev.max_power_kw() == pytest.approx(50.0)
    assert ev.phases == 3  # the on-board charger (1 phase) is bypassed on DC
    assert ev.step(150.0, 60) == pytest.approx(50.0)


def test_taper_above_80_percent() -> None:
    ev = Vehicle("ev1", SPEC, arrival_soc_pct=90)
    # halfway through the taper: 7.2 * (1 - 0.5 * 0.9)
    assert ev.max_power_kw() == pytest.approx(7.2 * 0.55)
    assert Vehicle("ev2", SPEC, arrival_soc_pct=79).max_power_kw() == pytest.approx(7.2)


def test_stops_when_full_and_power_averages_over_step() -> None:
    ev = Vehicle("ev1", SPEC, arrival_soc_pct=99.99)
    drawn = ev.step(7.2, 3600)
    assert ev.is_full and ev.wants_to_stop and ev.stop_reason == "full"
    assert drawn * 1.0 == pytest.approx(ev.energy_drawn_kwh)  # kW over 1 h == kWh
    assert ev.step(7.2, 60) == 0.0


def test_energy_request_caps_delivery() -> None:
    ev = Vehicle("ev1", SPEC, arrival_soc_pct=10, energy_request_kwh=5.0)
    assert ev.energy_request_kwh == 5.0
    total_kwh = sum(ev.step(7.2, 60) / 60 for _ in range(120))
    assert total_kwh == pytest.approx(5.0)
    assert ev.wants_to_stop and ev.stop_reason == "request_met"


def test_below_threshold_draws_nothing_and_counts_interruption() -> None:
    ev = Vehicle("ev1", SPEC, arrival_soc_pct=20)
    assert ev.step(1.4, 60) == 0.0
    assert ev.step(1.4, 60) == 0.0  # still the same interruption
    assert ev.interruptions == 1 and not ev.wants_to_stop
    assert ev.step(1.5, 60) == pytest.approx(1.5)  # at the threshold it charges
    assert ev.step(0.0, 60) == 0.0  # a zero offer is a pause, not an interruption
    assert ev.interruptions == 1


def test_gives_up_after_repeated_interruptions() -> None:
    spec = VehicleSpec(name="t", max_interruptions=2)
    ev = Vehicle("ev1", spec, arrival_soc_pct=20)
    ev.step(1.0, 60)
    ev.step(6.0, 60)
    assert not ev.wants_to_stop
    ev.step(1.0, 60)
    assert ev.gave_up and ev.wants_to_stop and ev.stop_reason == "interruptions"
    assert ev.step(6.0, 60) == 0.0 and ev.max_power_kw() == 0.0


def test_threshold_configurable_and_never_giving_up() -> None:
    spec = VehicleSpec(name="t", min_power_kw=0.5, max_interruptions=None)
    ev = Vehicle("ev1", spec, arrival_soc_pct=20)
    assert ev.step(1.0, 60) == pytest.approx(1.0)
    for _ in range(10):
        ev.step(0.2, 60)
        ev.step(2.0, 60)
    assert ev.interruptions == 10 and not ev.wants_to_stop


def test_invalid_spec_named() -> None:
    with pytest.raises(ValueError, match="efficiency"):
        VehicleSpec(name="x", efficiency=1.5)
    with pytest.raises(ValueError, match="arrival_soc_pct"):
        Vehicle("ev", SPEC, arrival_soc_pct=120)
