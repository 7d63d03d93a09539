"""Bills under PG&E E-19 against hand-computed figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.tariff import compute_bills, load_tariff
from edge.tariff.cli import main as bill_main
from evcommon.errors import ConfigError

LA = ZoneInfo("America/Los_Angeles")
STEP = timedelta(minutes=15)


def constant(start_local: datetime, end_local: datetime, power_kw: float) -> list:
    t = start_local.astimezone(UTC)
    end = end_local.astimezone(UTC)
    out = []
    while t < end:
        out.append((t, power_kw))
        t += STEP
    return out


@pytest.fixture(scope="module")
def e19():
    return load_tariff("pge-e19")


def test_periods_follow_local_time_weekdays_and_holidays(e19):
    at = lambda *a: datetime(*a, tzinfo=LA)  # noqa: E731
    assert e19.classify(at(2017, 7, 12, 12, 0)) == ("summer", "peak")
    assert e19.classify(at(2017, 7, 12, 11, 59)) == ("summer", "part_peak")
    assert e19.classify(at(2017, 7, 12, 21, 30)) == ("summer", "off_peak")
    assert e19.classify(at(2017, 7, 15, 13, 0)) == ("summer", "off_peak")  # Saturday
    assert e19.classify(at(2017, 7, 4, 13, 0)) == ("summer", "off_peak")  # holiday
    assert e19.classify(at(2017, 12, 12, 9, 0)) == ("winter", "part_peak")
    assert e19.classify(at(2017, 4, 30, 13, 0))[0] == "winter"
    assert e19.classify(at(2017, 5, 1, 13, 0)) == ("summer", "peak")


def test_july_constant_load_hand_computed(e19):
    # July 2017: 21 weekdays, minus the July 4 holiday = 20 period days.
    samples = constant(datetime(2017, 7, 1, tzinfo=LA), datetime(2017, 8, 1, tzinfo=LA), 10.0)
    (bill,) = compute_bills(samples, e19)
    energy = {line.name: line.quantity for line in bill.lines if line.kind == "energy"}
    assert energy["peak"] == pytest.approx(20 * 6 * 10)
    assert energy["part_peak"] == pytest.approx(20 * 7 * 10)
    assert energy["off_peak"] == pytest.approx(31 * 24 * 10 - 2600)
    expected_energy = 1200 * 0.14726 + 1400 * 0.10714 + 4840 * 0.08057
    assert bill.subtotal("energy") == pytest.approx(expected_energy)
    assert bill.subtotal("demand") == pytest.approx(10 * (18.74 + 5.23 + 17.33))
    assert bill.total == pytest.approx(expected_energy + 413.0)
    assert bill.subtotal("pdp_credit") == 0  # not enrolled


def test_demand_is_the_15_minute_average(e19):
    # one minute at 60 kW inside a 15-minute interval averages to 4 kW
    start = datetime(2017, 7, 12, 13, 0, tzinfo=LA).astimezone(UTC)
    samples = [(start + timedelta(minutes=i), 60.0 if i == 3 else 0.0) for i in range(30)]
    (bill,) = compute_bills(samples, e19)
    assert bill.peaks_kw["summer/peak"] == pytest.approx(4.0)
    assert bill.peaks_kw["summer/max"] == pytest.approx(4.0)


def test_billing_period_across_the_season_boundary(e19):
    tariff = e19.model_copy(update={"billing_day": 15})
    samples = constant(datetime(2017, 4, 15, tzinfo=LA), datetime(2017, 5, 15, tzinfo=LA), 5.0)
    spikes = {
        datetime(2017, 4, 20, 10, 0, tzinfo=LA).astimezone(UTC): 20.0,  # winter part-peak
        datetime(2017, 5, 10, 13, 0, tzinfo=LA).astimezone(UTC): 30.0,  # summer peak
    }
    samples = [(t, spikes.get(t, p)) for t, p in samples]
    (bill,) = compute_bills(samples, tariff)
    assert (bill.start, bill.end) == (date(2017, 4, 15), date(2017, 5, 15))
    winter, summer = 16 / 30, 14 / 30  # Apr 15-30, May 1-14
    expected = (
        20 * 17.33 * winter  # winter max
        + 20 * 0.13 * winter  # winter part-peak
        + 30 * 17.33 * summer  # summer max
        + 30 * 18.74 * summer  # summer peak
        + 5 * 5.23 * summer  # summer part-peak: only the base load
    )
    assert bill.subtotal("demand") == pytest.approx(expected)


def test_dst_month_counts_local_hours(e19):
    # March 2017 has 743 local hours (DST starts Sunday March 12).
    samples = constant(datetime(2017, 3, 1, tzinfo=LA), datetime(2017, 4, 1, tzinfo=LA), 1.0)
    assert len(samples) == 743 * 4
    (bill,) = compute_bills(samples, e19)
    energy = {line.name: line.quantity for line in bill.lines if line.kind == "energy"}
    assert bill.energy_kwh == pytest.approx(743)
    assert energy["part_peak"] == pytest.approx(23 * 13)  # 23 weekdays x 8:30-21:30
    # 16:15 UTC on Monday March 13 is 09:15 PDT: part-peak (it would be 08:15 in PST)
    assert e19.classify(datetime(2017, 3, 13, 16, 15, tzinfo=UTC)) == ("winter", "part_peak")
    assert e19.classify(datetime(2017, 3, 10, 16, 15, tzinfo=UTC)) == ("winter", "off_peak")


def test_peak_day_pricing_adder_and_credits(e19):
    tariff = e19.with_events([date(2017, 7, 12)])
    tariff = tariff.model_copy(
        update={"pdp": tariff.pdp.model_copy(update={"capacity_reservation_kw": 4.0})}
    )
    samples = constant(datetime(2017, 7, 12, tzinfo=LA), datetime(2017, 7, 13, tzinfo=LA), 10.0)
    (bill,) = compute_bills(samples, tariff)
    # 14:00-18:00 on the event day: (10 - 4) kW x 4 h at $1.20
    assert bill.subtotal("pdp_energy") == pytest.approx(6 * 4 * 1.20)
    # credits on the demand above the reservation, placeholder rates 5 and 1 $/kW
    assert bill.subtotal("pdp_credit") == pytest.approx(-(6 * 5.0 + 6 * 1.0))


def test_export_is_credited(e19):
    tariff = e19.model_copy(update={"export_price_per_kwh": 0.05})
    samples = constant(datetime(2017, 7, 15, tzinfo=LA), datetime(2017, 7, 15, 1, tzinfo=LA), -4.0)
    (bill,) = compute_bills(samples, tariff)
    assert bill.subtotal("export") == pytest.approx(-4 * 0.05)
    assert bill.energy_kwh == 0


def test_bad_tariff_names_the_key(tmp_path: Path):
    text = (Path(__file__).parents[2] / "edge/tariff/tariffs/pge-e19.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("rate_per_kw = 18.74", "rate_per_kw = -1"))
    with pytest.raises(ConfigError, match=r"demand\.0\.rate_per_kw"):
        load_tariff(bad)
    with pytest.raises(ConfigError, match="built-in"):
        load_tariff("no-such-tariff")


def test_cli_reads_csv_and_prints_items(tmp_path: Path, capsys):
    path = tmp_path / "load.csv"
    rows = ["timestamp,power_kw"]
    for t, p in constant(datetime(2017, 7, 12, tzinfo=LA), datetime(2017, 7, 13, tzinfo=LA), 8.0):
        rows.append(f"{t.isoformat()},{p}")
    path.write_text("\n".join(rows) + "\n")
    assert bill_main([str(path), "--pdp-day", "2017-07-12"]) == 0
    out = capsys.readouterr().out
    assert "summer/peak" in out and "pdp_energy" in out and "TOTAL" in out
    path.write_text("timestamp,power_kw\nnot-a-time,3\n")
    assert bill_main([str(path)]) == 2
    assert "load.csv:2" in capsys.readouterr().err


def test_cli_bills_scenario_runs_side_by_side(tmp_path: Path, capsys):
    from simulators.scenario.output import RunOutput

    paths = []
    for name, power_kw in (("uncontrolled", 20.0), ("controlled", 10.0)):
        start = datetime(2017, 7, 12, 12, 0, tzinfo=LA).astimezone(UTC)
        run = RunOutput(
            name,
            "reference-garage",
            "America/Los_Angeles",
            start,
            start + timedelta(hours=1),
            "sim",
            "local",
        )
        run.add_power(start, start + timedelta(hours=1), {"site_kw": power_kw})
        path = tmp_path / f"{name}.json"
        run.write(path)
        paths.append(str(path))
    assert bill_main(paths) == 0
    out = capsys.readouterr().out
    # 1 h at 20 kW in the summer peak: 20 kWh x 0.14726 + 20 kW x (18.74 + 17.33)
    assert f"{20 * 0.14726 + 20 * (18.74 + 17.33):.2f}" in out
    assert f"{10 * 0.14726 + 10 * (18.74 + 17.33):.2f}" in out
    assert "Comparison" in out


def test_month_to_date_peaks_for_the_planner(e19):
    from edge.tariff.bill import month_to_date_peaks

    samples = constant(datetime(2017, 6, 30, tzinfo=LA), datetime(2017, 7, 12, tzinfo=LA), 5.0)
    spikes = {
        datetime(2017, 6, 30, 13, 0, tzinfo=LA).astimezone(UTC): 50.0,  # June: other bill
        datetime(2017, 7, 10, 13, 0, tzinfo=LA).astimezone(UTC): 30.0,  # July peak period
    }
    samples = [(t, spikes.get(t, p)) for t, p in samples]
    now = datetime(2017, 7, 12, 9, 0, tzinfo=LA)
    assert month_to_date_peaks(samples, e19, now) == {"peak": 30.0, "part_peak": 5.0, "max": 30.0}
