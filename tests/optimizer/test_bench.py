"""`edge bench` at CI scale: one day of the reference garage through three strategies."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from edge.optimizer.bench import main
from edge.optimizer.scenarios import garage


def test_one_day_replay_prints_bills_and_writes_the_plot(tmp_path: Path, capsys):
    plot = tmp_path / "peak.png"
    assert (
        main(
            [
                "--days",
                "1",
                "--first-day",
                "5",
                "--strategies",
                "uncontrolled,edf,milp",
                "--plot",
                str(plot),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "without the network" in out
    for name in ("== uncontrolled", "== edf", "== milp"):
        assert name in out
    assert out.count("bill 2017-07-01..2017-08-01") == 3  # July 5 is a Wednesday
    assert "sessions short" in out and "solve: median" in out
    assert plot.stat().st_size > 10_000


def test_garage_scenario_sessions_end_inside_the_replay():
    sc = garage(days=2)
    end = sc.start + timedelta(days=2)
    assert sc.sessions
    assert all(sc.start <= s.arrival < s.departure <= end for s in sc.sessions)
    fleet = [s for s in sc.sessions if s.group.startswith("fleet-")]
    assert fleet and all(s.known_ahead for s in fleet)
    assert len(sc.base_kw) == len(sc.dcfc_kw) == 2 * 96
