"""Pure parts of the demo: uncontrolled baseline, bills, report text, plot, progress line."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.tariff.loader import load_tariff
from simulators.demo.progress import SiteView, render
from simulators.demo.record import RecordError, make_report, read_record
from simulators.demo.report import (
    Interval,
    RunRecord,
    Session,
    build_report,
    format_report,
    plot_load,
    uncontrolled_intervals,
)
from simulators.scenario.output import RunOutput, SessionRecord

ROOT = Path(__file__).resolve().parents[2]
LA = ZoneInfo("America/Los_Angeles")
T0 = datetime(2026, 7, 15, 12, 0, tzinfo=LA).astimezone(UTC)  # a summer Wednesday, noon


def day_record() -> RunRecord:
    """Base 50 kW; one vehicle plugged 13:00-07:00 wants 13.2 kWh, charged at night."""
    step = 900
    intervals = []
    for i in range(96):
        start = T0 + timedelta(seconds=i * step)
        local = start.astimezone(LA)
        ev = 6.6 if local.hour in (1, 2) else 0.0  # controlled: off-peak only
        intervals.append(Interval(start, 50.0 + ev, ev))
    arrival = T0 + timedelta(hours=1)
    session = Session("L2-F1-01/1", arrival, T0 + timedelta(hours=19), 13.2, 13.2, 6.6)
    return RunRecord(step, intervals, [session])


def test_uncontrolled_baseline_charges_at_max_from_plug_in() -> None:
    base = uncontrolled_intervals(day_record())
    # 13:00-15:00 at 6.6 kW = 13.2 kWh, then nothing; non-EV load kept
    assert base[3].site_kw == pytest.approx(50.0)
    assert base[4].site_kw == pytest.approx(56.6)
    assert base[11].site_kw == pytest.approx(56.6)
    assert base[12].site_kw == pytest.approx(50.0)
    total_ev_kwh = sum(iv.ev_kw for iv in base) * 0.25
    assert total_ev_kwh == pytest.approx(13.2)


def test_uncontrolled_partial_interval_and_departure() -> None:
    record = day_record()
    s = record.sessions[0]
    short = Session(s.key, T0 + timedelta(minutes=7.5), T0 + timedelta(minutes=37.5), 100, 1, 8)
    record.sessions[:] = [short]
    base = uncontrolled_intervals(record)
    # 7.5 min in interval 0, 15 in 1, 7.5 in 2, at 8 kW: 4, 8, 4 kW averages
    assert [round(iv.ev_kw, 6) for iv in base[:4]] == [4.0, 8.0, 4.0, 0.0]


def test_report_compares_bills_and_peaks(tmp_path: Path) -> None:
    record = day_record()
    report = build_report(record, load_tariff("pge-e19"), "reference-garage")
    # moving 13.2 kWh from the summer peak into off-peak is cheaper
    assert report.controlled.total < report.uncontrolled.total
    assert report.savings > 0
    assert report.uncontrolled.peaks_kw and max(report.uncontrolled.peaks_kw.values()) == (
        pytest.approx(56.6)
    )
    assert report.delivered_kwh == pytest.approx(report.requested_kwh)
    report.plot = str(plot_load(record, report, tmp_path / "load.png", 200.0))
    assert (tmp_path / "load.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = format_report(report)
    for part in (
        "controlled",
        "uncontrolled",
        "Peak demand by period",
        "Energy: delivered",
        "Baseline:",
        "Plot:",
    ):
        assert part in text


def write_run_file(record: RunRecord, path: Path) -> None:
    """The record as the simulator writes it (its own RunOutput class, evsim-run/1)."""
    out = RunOutput(
        scenario="t",
        site_id="reference-garage",
        timezone="America/Los_Angeles",
        start=record.intervals[0].start,
        end=record.intervals[-1].start + timedelta(seconds=record.interval_s),
        clock="sim",
        mode="ocpp",
    )
    for iv in record.intervals:
        t1 = iv.start + timedelta(seconds=record.interval_s)
        out.add_power(iv.start, t1, {"site_kw": iv.site_kw, "ev_kw": iv.ev_kw})
    for s in record.sessions:
        out.sessions.append(
            SessionRecord(
                session_id=s.key,
                vehicle_id="v1",
                vehicle_type="leaf24",
                arrival=s.arrival,
                departure=s.departure,
                energy_requested_kwh=s.requested_kwh,
                arrival_soc_pct=30.0,
                source="test",
                status="completed",
                station_id=s.key,
                max_power_kw=s.max_kw,
                plugged_in_at=s.arrival,
                unplugged_at=s.departure,
                energy_delivered_kwh=s.delivered_kwh,
            )
        )
    out.sessions.append(
        SessionRecord("x", "v2", "leaf24", T0, T0, 5.0, 30.0, "test", status="no_free_port")
    )
    out.write(path)


def test_make_report_reads_a_record_file(tmp_path: Path) -> None:
    record = day_record()
    path = tmp_path / "run.json"
    write_run_file(record, path)
    read = read_record(path)
    assert len(read.intervals) == 96 * 15  # written per minute
    assert sum(iv.ev_kw for iv in read.intervals) / 60 == pytest.approx(13.2)
    assert [s.key for s in read.sessions] == ["L2-F1-01/1"]  # the unserved one is left out
    text = make_report(path, ROOT / "edge" / "sites" / "reference-garage.toml", tmp_path)
    assert "TOTAL" in text
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["controlled"]["total"] < saved["uncontrolled"]["total"]
    assert (tmp_path / "site-load.png").exists()


def test_read_record_names_a_bad_file(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="wrote no record"):
        read_record(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text('{"format": "other"}')
    with pytest.raises(RecordError, match="evsim-run/1"):
        read_record(tmp_path / "x.json")


def test_progress_line() -> None:
    view = SiteView()
    view.site_kw = 123.4
    now = T0 + timedelta(hours=6)
    view.connectors = {"A/1": (6.6, now), "B/1": (0.0, now), "C/1": (3.3, now - timedelta(hours=1))}
    line = render(view, now, T0, T0 + timedelta(hours=24), LA)
    assert "25%" in line and "18:00 sim" in line and "123.4 kW" in line
    assert "charging   1" in line
    assert "#" * 8 in line


def test_progress_printer_without_tty_prints_steps() -> None:
    from evcommon.clock import ManualClock
    from simulators.demo.progress import ProgressPrinter

    out = io.StringIO()
    clock = ManualClock(T0)
    printer = ProgressPrinter(clock, T0, T0 + timedelta(hours=1), LA, out)
    for minutes in range(0, 61, 1):
        clock.set(T0 + timedelta(minutes=minutes))
        printer.update(SiteView())
    lines = out.getvalue().splitlines()
    assert 15 <= len(lines) <= 21  # a line every 5 %, not one per update


def test_progress_tolerates_pipeline_lag() -> None:
    """At high speed MQTT lags the clock: freshness is judged from the newest sample."""
    from evcommon.contract import MeterValuesEvent, Topics, encode

    view = SiteView()
    topics = Topics()
    sampled = T0 + timedelta(hours=1)
    for sid, kw in (("A", 6.6), ("B", 3.3)):
        event = MeterValuesEvent(station_id=sid, connector_id=1, power_kw=kw, sampled_at=sampled)
        view.handle(topics.connector_meter(sid, 1), encode(event), topics, "site")
    view.handle(topics.connector_meter("C", 1), b"not json", topics, "site")
    clock_now = sampled + timedelta(hours=2)  # the clock is far ahead of the data
    assert view.charging(clock_now) == 2
    assert view.ev_kw(clock_now) == pytest.approx(9.9)
    assert view.bad_messages == 1


def test_scenario_start_is_moved_not_the_sessions(tmp_path: Path) -> None:
    """The demo's copy of the scenario starts at --start; sessions keep their local times."""
    from simulators.demo.run import DemoOptions, scenario_for
    from simulators.scenario.loader import load_scenario

    options = DemoOptions(start=T0, duration=timedelta(hours=24), speed=360, out=tmp_path)
    plan = load_scenario(str(scenario_for(options)))
    assert plan.start == T0
    fleet = [s for s in plan.sessions if (s.group or "").startswith("fleet")]
    assert fleet
    # fleet vehicles return in the afternoon (15:30 +- a few sd), not shifted by the start
    assert all(9 <= s.arrival.astimezone(LA).hour <= 21 for s in fleet)
