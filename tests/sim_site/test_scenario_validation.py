"""Bad scenario and sessions input: a clear error naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.cli import main
from simulators.scenario.errors import ScenarioError
from simulators.scenario.loader import load_scenario

BASE = """\
[scenario]
name = "t"
site_id = "t"
timezone = "Europe/Oslo"
start = 2026-03-02T00:00:00
duration_h = 24

[[stations]]
id_prefix = "A-"
count = 2
type = "L2"
group = "g"
"""


def _write(tmp_path: Path, text: str, csv: str | None = None) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    if csv is not None:
        (tmp_path / "sessions.csv").write_text(csv)
    return path


def _err(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value


def test_unknown_station_type_names_line_and_field(tmp_path: Path) -> None:
    text = BASE + '\n[[stations]]\nid = "B"\ntype = "L9"\n'
    err = _err(_write(tmp_path, text))
    assert err.line == 16 and err.field == "stations[1].type"
    assert "unknown station type 'L9'" in str(err)
    assert str(err).startswith(f"{tmp_path / 's.toml'}:16:")


def test_departure_before_arrival_in_toml(tmp_path: Path) -> None:
    text = BASE + (
        "\n[[sessions]]\narrival = 2026-03-02T10:00:00\ndeparture = 2026-03-02T09:00:00\n"
        'energy_kwh = 5\ngroup = "g"\n'
    )
    err = _err(_write(tmp_path, text))
    assert err.field == "sessions[0].departure" and err.line == 16
    assert "not after arrival" in err.message


def test_wrong_value_type_from_pydantic(tmp_path: Path) -> None:
    err = _err(_write(tmp_path, BASE.replace("duration_h = 24", 'duration_h = "long"')))
    assert err.field == "scenario.duration_h" and err.line == 6


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    err = _err(_write(tmp_path, BASE.replace("count = 2", "count = 2\ncolour = 'red'")))
    assert err.field == "stations[0].colour" and err.line == 11


CSV_SECTION = '\n[sessions_csv]\npath = "sessions.csv"\n'


def test_csv_missing_column(tmp_path: Path) -> None:
    csv = "arrival,energy_kwh,group\n2026-03-02T08:00,5,g\n"
    err = _err(_write(tmp_path, BASE + CSV_SECTION, csv))
    assert err.path.endswith("sessions.csv") and err.line == 1 and err.field == "departure"
    assert "missing column" in str(err)


def test_csv_departure_before_arrival_names_line(tmp_path: Path) -> None:
    csv = (
        "session_id,arrival,departure,energy_kwh,group\n"
        "a,2026-03-02T08:00,2026-03-02T12:00,5,g\n"
        "b,2026-03-02T09:00,2026-03-02T08:30,5,g\n"
    )
    err = _err(_write(tmp_path, BASE + CSV_SECTION, csv))
    assert (err.line, err.field) == (3, "departure")
    assert str(err).startswith(f"{tmp_path / 'sessions.csv'}:3: field 'departure'")


def test_csv_unknown_station_type_and_bad_number(tmp_path: Path) -> None:
    csv = "arrival,departure,energy_kwh,station_type\n2026-03-02T08:00,2026-03-02T09:00,5,L7\n"
    err = _err(_write(tmp_path, BASE + CSV_SECTION, csv))
    assert (err.line, err.field) == (2, "station_type") and "L7" in err.message
    csv = "arrival,departure,energy_kwh,group\n2026-03-02T08:00,2026-03-02T09:00,lots,g\n"
    err = _err(_write(tmp_path, BASE + CSV_SECTION, csv))
    assert (err.line, err.field) == (2, "energy_kwh")
    csv = "arrival,departure,energy_kwh,group\n2026-03-02 8h,2026-03-02T09:00,1,g\n"
    err = _err(_write(tmp_path, BASE + CSV_SECTION, csv))
    assert (err.line, err.field) == (2, "arrival")


def test_csv_sessions_load_in_local_time(tmp_path: Path) -> None:
    csv = (
        "arrival,departure,energy_kwh,station,vehicle\n"
        "2026-03-02T08:00,2026-03-02T12:00,5,A-02,leaf24\n"
    )
    plan = load_scenario(_write(tmp_path, BASE + CSV_SECTION, csv))
    (s,) = plan.sessions
    assert s.arrival.isoformat() == "2026-03-02T07:00:00+00:00"  # Oslo is UTC+1 in March
    assert s.station == "A-02" and s.vehicle_type == "leaf24"
    assert s.source.endswith("sessions.csv:2")


def test_cli_validate_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "reference-garage"]) == 0
    assert "51 ports (1 DCFC, 14 L1, 36 L2)" in capsys.readouterr().out
    bad = _write(tmp_path, BASE.replace('type = "L2"', 'type = "L3"'))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "s.toml:11: field 'stations[0].type': unknown station type 'L3'" in err


def test_shipped_scenarios_validate() -> None:
    garage = load_scenario("reference-garage")
    ids = [p.station_id for p in garage.ports]
    assert len(ids) == 51 and len(set(ids)) == 51
    assert {"L2-F1-01", "L1-F4-01", "L2-P-16", "L1-P-10", "DCFC-01"} <= set(ids)
    groups = {p.group for p in garage.ports}
    assert groups == {"fleet-1", "fleet-2", "fleet-3", "fleet-4", "public", "dcfc"}
    fleet = [s for s in garage.sessions if s.group and s.group.startswith("fleet")]
    local_arrivals = [s.arrival.astimezone(garage.scenario.scenario.tz).hour for s in fleet]
    assert fleet and sum(12 <= h <= 19 for h in local_arrivals) >= 0.8 * len(fleet)
    trondheim = load_scenario("trondheim")
    assert len(trondheim.ports) == 22 and len(trondheim.sessions) > 30
    assert all(s.station and s.station.startswith("BL2-") for s in trondheim.sessions)


def test_trondheim_unknown_garage(tmp_path: Path) -> None:
    text = BASE + '\n[trondheim]\ngarage = "Nowhere"\n'
    err = _err(_write(tmp_path, text))
    assert err.field == "Garage_ID" and "Nowhere" in err.message
    assert err.path.endswith("norway_trondheim_residential_ev_sessions_sorensen2021.csv")
