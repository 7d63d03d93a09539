"""Sampled values -> SI rows and kW/kWh events; station clock sanity."""

from __future__ import annotations

from datetime import UTC, datetime

from csms import normalise

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)


def test_16_units_and_defaults() -> None:
    items = normalise.samples(
        {
            "sampledValue": [
                {"value": "12.5"},  # default: Energy.Active.Import.Register in Wh
                {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                {"value": "2.3", "measurand": "Power.Active.Import", "unit": "kW", "phase": "L1"},
                {"value": "16", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
                {"value": "15", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
                {"value": "55", "measurand": "SoC", "unit": "Percent", "location": "EV"},
            ]
        }
    )
    assert items[0].measurand == normalise.ENERGY_REGISTER and items[0].value_si == 12.5
    assert items[0].unit == "Wh" and items[0].context == "Sample.Periodic"
    assert items[1].value_si == 7200.0
    ev = normalise.to_event("CP", 1, "5", NOW, items, NOW)
    assert ev is not None
    assert ev.energy_kwh == 0.0125 and ev.power_kw == 7.2
    assert ev.power_kw_phases == {"L1": 2.3}
    assert ev.current_a_phases == {"L1": 16.0, "L2": 15.0} and ev.current_a == 16.0
    assert ev.soc_pct == 55.0


def test_201_unit_of_measure_multiplier() -> None:
    items = normalise.samples(
        {
            "sampledValue": [
                {"value": 3.5, "unitOfMeasure": {"unit": "kWh"}},
                {
                    "value": 11,
                    "measurand": "Power.Active.Import",
                    "unitOfMeasure": {"unit": "W", "multiplier": 3},
                },
                {"value": 4000, "measurand": "Power.Active.Import", "phase": "L2-N"},
            ]
        }
    )
    ev = normalise.to_event("CP", 2, None, None, items, NOW)
    assert ev is not None
    assert ev.energy_kwh == 3.5 and ev.power_kw == 11.0 and ev.power_kw_phases == {"L2": 4.0}


def test_signed_or_garbage_values_are_kept_raw_only() -> None:
    items = normalise.samples({"sampledValue": [{"value": "AbCd==", "format": "SignedData"}]})
    assert items[0].value == "AbCd==" and items[0].value_si is None
    assert normalise.to_event("CP", 1, None, None, items, NOW) is None


def test_station_clock_sanity() -> None:
    assert normalise.parse_station_time("1970-01-01T00:00:10Z", NOW) is None
    assert normalise.parse_station_time("2030-01-01T00:00:00Z", NOW) is None
    assert normalise.parse_station_time("garbage", NOW) is None
    late = normalise.parse_station_time("2026-06-28T09:00:00+02:00", NOW)
    assert late == datetime(2026, 6, 28, 7, tzinfo=UTC)  # queued for days: still fine
    assert normalise.parse_station_time("2026-07-01T11:00:00", NOW) == datetime(
        2026, 7, 1, 11, tzinfo=UTC
    )


def test_event_values_are_rounded() -> None:
    """Wh -> kWh scaling leaves float noise (10.993947270000001) that must not reach MQTT."""
    items = normalise.samples(
        {
            "sampledValue": [
                {"value": "10993.94727"},
                {"value": "10993.94727", "measurand": "Power.Active.Import", "phase": "L1"},
                {"value": "1.23456789", "measurand": "Power.Active.Import", "unit": "kW"},
            ]
        }
    )
    ev = normalise.to_event("CP", 1, "5", NOW, items, NOW)
    assert ev is not None
    assert ev.energy_kwh == 10.993947
    assert ev.power_kw_phases == {"L1": 10.993947}
    assert ev.power_kw == 1.234568
    assert "10.993947270000001" not in ev.model_dump_json()
