"""Site config: the shipped example validates; errors name the key; env overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.cli import main
from edge.config import load_site_config
from evcommon.errors import ConfigError

EXAMPLE = Path(__file__).parents[2] / "edge" / "sites" / "reference-garage.toml"

MINIMAL = """
[site]
id = "t"
import_limit_kw = 50
[groups.g]
safe_limit_kw = 1.65
[stations.S1]
connectors.1 = { group = "g", max_power_kw = 6.6 }
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "site.toml"
    p.write_text(text)
    return p


def test_reference_garage_matches_the_simulator_station_list() -> None:
    cfg = load_site_config(EXAMPLE)
    ids = cfg.station_ids()
    assert len(ids) == 51
    assert {"L2-F1-01", "L1-F4-01", "L2-P-16", "L1-P-10", "DCFC-01"} <= set(ids)
    windows = {
        name: g.start_window.opens.strftime("%H:%M")
        for name, g in cfg.groups.items()
        if g.start_window is not None
    }
    assert windows == {
        "fleet-1": "21:30",
        "fleet-2": "23:30",
        "fleet-3": "01:30",
        "fleet-4": "03:30",
    }
    assert not cfg.groups["dcfc"].controlled


def test_check_config_prints_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "51 stations" in out and "config OK" in out


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        (("[site]", "[site]\nimport_limt_kw = 3"), "site.import_limt_kw"),
        (("import_limit_kw = 50", "import_limit_kw = -1"), "site.import_limit_kw"),
        (("safe_limit_kw = 1.65", "safe_limit_kw = 1.0"), "groups.g.safe_limit_kw"),
        (('group = "g"', 'group = "nope"'), "stations.S1.connectors.1.group"),
        (("[site]", '[site]\ntimezone = "Mars/Olympus"'), "site.timezone"),
        (("[groups.g]", '[groups.g]\nstart_window = { opens = "25:00" }'), "groups.g.start_window"),
    ],
)
def test_errors_name_the_key(
    tmp_path: Path, patch: tuple[str, str], key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, MINIMAL.replace(*patch, 1))
    with pytest.raises(ConfigError) as exc:
        load_site_config(path)
    assert key in str(exc.value)
    assert main(["check-config", str(path)]) == 2
    assert key in capsys.readouterr().err


def test_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_MQTT__HOST", "broker.example")
    monkeypatch.setenv("EDGE_CONTROL__INTERVAL_S", "15")
    cfg = load_site_config(write(tmp_path, MINIMAL))
    assert cfg.mqtt.host == "broker.example" and cfg.control.interval_s == 15
    assert cfg.meter_stale_after_s is not None and cfg.client_id == "edge-t"


def test_unknown_planner_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, MINIMAL + '\n[optimizer]\nstrategy = "no-such"\n')
    assert main(["check-config", str(path)]) == 2
    assert "optimizer.strategy" in capsys.readouterr().err


@pytest.mark.parametrize("sub", ["bill", "site"])
def test_subcommands_dispatch_to_their_owners(sub: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([sub, "--help"])
    assert exc.value.code == 0
    assert f"edge {sub}" in capsys.readouterr().out


def test_tariff_path_relative_to_the_config_and_loaded(tmp_path: Path) -> None:
    from edge.tariff.loader import TARIFF_DIR

    (tmp_path / "tariffs").mkdir()
    (tmp_path / "tariffs" / "site.toml").write_text((TARIFF_DIR / "pge-e19.toml").read_text())
    path = write(tmp_path, MINIMAL.replace("[site]", '[site]\ntariff = "tariffs/site.toml"'))
    cfg = load_site_config(path)
    assert cfg.site.tariff == (tmp_path / "tariffs" / "site.toml").resolve()
    builtin = load_site_config(
        write(tmp_path, MINIMAL.replace("[site]", '[site]\ntariff = "pge-e19"'))
    )
    assert str(builtin.site.tariff) == "pge-e19"


def test_bad_tariff_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, MINIMAL.replace("[site]", '[site]\ntariff = "no-such-tariff"'))
    assert main(["check-config", str(path)]) == 2
    assert "site.tariff" in capsys.readouterr().err
