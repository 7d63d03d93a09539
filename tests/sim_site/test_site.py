"""Base load, PV, battery and the site balance (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from simulators.site.baseload import BaseLoadSpec, base_load_kw
from simulators.site.battery import Battery, BatterySpec
from simulators.site.meters import SiteModel
from simulators.site.pv import PvSpec, clear_sky_ghi_w_m2, pv_power_kw

LA = ZoneInfo("America/Los_Angeles")
MONDAY = datetime(2026, 7, 6, tzinfo=LA)


def _day(f, start: datetime, step_min: int = 5) -> list[float]:
    return [f(start + timedelta(minutes=m)) for m in range(0, 24 * 60, step_min)]


def test_base_load_shape_like_report() -> None:
    spec = BaseLoadSpec(peak_kw=65.0, noise_pct=3.0, seed=4)
    weekday = _day(lambda t: base_load_kw(spec, t, LA), MONDAY)
    saturday = _day(lambda t: base_load_kw(spec, t, LA), MONDAY + timedelta(days=5))
    assert 60 <= max(weekday) <= 65 * 1.03
    assert max(weekday[: 5 * 12]) < 35  # night valley about half the peak
    assert weekday.index(max(weekday)) in range(9 * 12, 16 * 12)  # daytime peak
    assert max(saturday) < 0.75 * max(weekday)
    # deterministic, and a different seed gives a different curve
    assert weekday == _day(lambda t: base_load_kw(spec, t, LA), MONDAY)
    other = BaseLoadSpec(seed=5)
    assert weekday != _day(lambda t: base_load_kw(other, t, LA), MONDAY)


def test_pv_clear_sky_follows_the_sun() -> None:
    spec = PvSpec(peak_kw=100.0, latitude_deg=37.8, longitude_deg=-122.27, cloudiness=0.0)
    day = _day(lambda t: pv_power_kw(spec, t), MONDAY, 15)
    assert day[: 4 * 4] == [0.0] * 16 and day[22 * 4 :] == [0.0] * 8  # night
    noon = max(day)
    assert 75 < noon < 100 * 0.85  # July, 38 N: high sun, below nameplate x PR
    # solar noon near 13:10 PDT at this longitude
    assert abs(day.index(noon) / 4 - 13.1) < 0.6
    # winter in Trondheim: a low sun, little output
    jan = datetime(2026, 1, 15, 12, tzinfo=UTC)
    assert clear_sky_ghi_w_m2(jan, 63.4, 10.4) < 150


def test_pv_clouds_reduce_output_reproducibly() -> None:
    clear = PvSpec(peak_kw=50.0, cloudiness=0.0, seed=3)
    cloudy = PvSpec(peak_kw=50.0, cloudiness=0.8, seed=3)
    e_clear = sum(_day(lambda t: pv_power_kw(clear, t), MONDAY))
    e_cloudy = sum(_day(lambda t: pv_power_kw(cloudy, t), MONDAY))
    assert 0.3 * e_clear < e_cloudy < 0.8 * e_clear
    assert e_cloudy == sum(_day(lambda t: pv_power_kw(cloudy, t), MONDAY))


def test_battery_shaves_peaks_and_recharges() -> None:
    bat = Battery(
        BatterySpec(
            capacity_kwh=20,
            power_kw=10,
            initial_soc_pct=50,
            min_soc_pct=10,
            shave_above_kw=100,
            charge_below_kw=50,
            efficiency=1.0,
        )
    )
    assert bat.step(104.0, 3600) == pytest.approx(-4.0)
    assert bat.stored_kwh == pytest.approx(6.0)
    assert bat.step(200.0, 3600) == pytest.approx(-4.0)  # only down to min SoC (2 kWh)
    assert bat.step(80.0, 3600) == 0.0
    assert bat.step(30.0, 3600) == pytest.approx(10.0)
    assert bat.soc_pct == pytest.approx(60.0)


def test_site_balance_and_registers() -> None:
    site = SiteModel(
        tz=LA,
        base=BaseLoadSpec(peak_kw=65.0, noise_pct=0.0),
        pv=PvSpec(peak_kw=40.0, cloudiness=0.0),
        battery_spec=BatterySpec(shave_above_kw=80.0, charge_below_kw=10.0),
    )
    start = MONDAY + timedelta(hours=13)
    power = site.step(start, start + timedelta(minutes=15), ev_kw=30.0, dcfc_kw=45.0)
    assert power.pv_kw < -20
    assert power.battery_kw < 0  # shaving: above 80 kW before the battery
    assert power.main_kw == pytest.approx(80.0)
    readings = site.readings(power)
    assert set(readings) == {"main", "dcfc", "pv", "battery"}
    assert readings["dcfc"].power_kw == pytest.approx(45.0)
    assert readings["dcfc"].energy_import_kwh == pytest.approx(45.0 / 4)
    assert readings["pv"].energy_export_kwh == pytest.approx(-power.pv_kw / 4, rel=1e-4)
    assert readings["battery"].soc_pct is not None and readings["battery"].soc_pct < 50
    assert readings["main"].ts == start + timedelta(minutes=15)
