"""The scenario runner in local mode (stations offer full power), free-running on a ManualClock."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from evcommon.clock import ManualClock
from simulators.cli import main
from simulators.scenario.output import IntervalSeries, read_run_output
from simulators.scenario.plan import ScenarioPlan
from simulators.scenario.runner import ScenarioRunner
from simulators.scenario.stations import LocalStations
from tests.plugins.sim_site import MakeScenario

SCENARIO = """\
[scenario]
name = "mini"
site_id = "mini"
timezone = "UTC"
start = 2026-07-06T00:00:00
duration_h = 4
[base_load]
peak_kw = 10.0
noise_pct = 0.0
[meters]
publish_interval_s = 30
[vehicle_types.small]
capacity_kwh = 20
ac_max_kw = 6.0
dc_max_kw = 40.0
efficiency = 1.0
[[stations]]
id = "L2-1"
type = "L2"
[[stations]]
id = "FAST"
type = "DCFC"
[[sessions]]
session_id = "ac"
arrival = 2026-07-06T01:00:00
departure = 2026-07-06T03:00:00
energy_kwh = 3.0
station = "L2-1"
vehicle = "small"
[[sessions]]
session_id = "dc"
arrival = 2026-07-06T01:00:00
departure = 2026-07-06T01:30:00
energy_kwh = 10.0
station_type = "DCFC"
vehicle = "small"
[[sessions]]
session_id = "late"
arrival = 2026-07-06T03:00:00
departure = 2026-07-06T09:00:00
energy_kwh = 50.0
station = "L2-1"
vehicle = "small"
[[sessions]]
session_id = "blocked"
arrival = 2026-07-06T02:00:00
departure = 2026-07-06T02:30:00
energy_kwh = 5.0
station = "L2-1"
"""


def test_interval_series_splits_by_overlap() -> None:
    from datetime import UTC, datetime

    s = IntervalSeries(60)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    s.add(t0 + timedelta(seconds=30), t0 + timedelta(seconds=90), {"ev_kw": 6.0})
    rows = s.rows()
    assert [r["covered_s"] for r in rows] == [30.0, 30.0]
    assert rows[0]["ev_kw"] == 6.0 and rows[0]["site_kw"] == 0.0


async def test_local_run_delivers_and_records(make_scenario: MakeScenario) -> None:
    plan = make_scenario(SCENARIO)
    clock = ManualClock(plan.start)
    out = await ScenarioRunner(plan, clock, LocalStations(), free_run=True).run()
    by_id = {s.session_id: s for s in out.sessions}
    ac, dc, late = by_id["ac"], by_id["dc"], by_id["late"]
    assert ac.status == "completed" and ac.energy_delivered_kwh == pytest.approx(3.0)
    assert ac.charge_start is not None and ac.charge_end is not None
    # 3 kWh at 6 kW: 30 minutes (to the 30 s tick)
    assert (ac.charge_end - ac.charge_start).total_seconds() == pytest.approx(1800, abs=60)
    assert dc.station_id == "FAST" and dc.energy_delivered_kwh == pytest.approx(10.0)
    assert late.status == "plugged_at_end"  # still there at the end of the run
    assert late.energy_delivered_kwh == pytest.approx(6.0 * 1, rel=0.01)
    assert by_id["blocked"].status == "no_free_port"  # "ac" holds L2-1 until 03:00
    rows = out.series_1min.rows()
    assert len(rows) == 240
    # energy balance: the EV part of the intervals equals what the vehicles drew
    ev_kwh = sum(r["ev_kw"] * r["covered_s"] for r in rows) / 3600
    delivered = sum(s.energy_delivered_kwh for s in out.sessions)
    assert ev_kwh == pytest.approx(delivered, rel=1e-6)
    dcfc_rows = [r for r in rows if r["dcfc_kw"] > 0]
    assert max(r["dcfc_kw"] for r in dcfc_rows) == pytest.approx(40.0)
    for r in rows:
        assert r["site_kw"] == pytest.approx(
            r["base_kw"] + r["ev_kw"] + r["pv_kw"] + r["battery_kw"], abs=1e-3
        )


def test_cli_run_writes_documented_file(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    rc = main(["run", "reference-garage", "--speed", "max", "--duration", "24", "--out", str(out)])
    assert rc == 0
    data = read_run_output(out)
    assert data["interval_s"] == 60 and len(data["intervals"]) == 1440
    assert len(data["intervals_15min"]) == 96
    s = data["summary"]
    assert s["sessions"] > 30 and s["delivered_ratio"] > 0.9
    # fleet returns in the afternoon: EV power peaks between 15:00 and 24:00 local
    peak = max(data["intervals_15min"], key=lambda r: r["ev_kw"])
    from datetime import datetime
    from zoneinfo import ZoneInfo

    hour = datetime.fromisoformat(peak["start"]).astimezone(ZoneInfo("America/Los_Angeles")).hour
    assert 15 <= hour <= 23
    base_peak = max(r["base_kw"] for r in data["intervals_15min"])
    assert 58 < base_peak < 68  # about 65 kW before EVs
    json.dumps(data)  # plain JSON


def test_cli_rejects_max_speed_with_csms(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "reference-garage", "--speed", "max", "--csms-url", "ws://x"]) == 2
    assert "--speed max" in capsys.readouterr().err


def test_cli_demo_dispatches_to_demo_module(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["demo", "--help"])
    assert info.value.code == 0
    assert "evsim demo" in capsys.readouterr().out


def test_rebased_plan_moves_sessions(reference_plan: ScenarioPlan) -> None:
    from datetime import UTC, datetime

    new_start = datetime(2027, 1, 4, 8, tzinfo=UTC)
    moved = reference_plan.rebased(new_start).with_duration(12)
    assert moved.start == new_start and moved.end == new_start + timedelta(hours=12)
    delta = new_start - reference_plan.start
    first_old, first_new = reference_plan.sessions[0], moved.sessions[0]
    assert first_new.arrival == first_old.arrival + delta
    assert all(s.arrival < moved.end for s in moved.sessions)
