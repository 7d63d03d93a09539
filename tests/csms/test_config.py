"""The settings tree: the documented example validates, env overrides, errors name keys."""

from __future__ import annotations

from pathlib import Path

import pytest

import csms
from csms import config
from evcommon.errors import ConfigError

EXAMPLE = Path(csms.__file__).parent / "csms.example.toml"


def test_example_file_is_valid_and_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVSITE_CLOCK", raising=False)
    settings = config.load(EXAMPLE)
    # the example documents the defaults, and confirms the open registration they imply
    # (a config file on a public host must)
    confirmed = {"security": {"confirm_allow_unknown_stations": True}}
    assert settings == config.CsmsSettings(**confirmed)


def test_env_and_cli_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSMS_SERVER__PORT", "9555")
    monkeypatch.setenv("CSMS_SECURITY__ALLOW_UNKNOWN_STATIONS", "false")
    monkeypatch.setenv("CSMS_SERVER__DEFAULT_VERSION", "null")
    s = config.load(EXAMPLE)
    assert s.server.port == 9555 and not s.security.allow_unknown_stations
    assert s.server.default_version is None
    s = config.load(
        EXAMPLE,
        port=1234,
        db="postgresql://x@h/db",
        clock="sim:start=2026-07-01T00:00:00Z,speed=60",
    )
    assert s.server.port == 1234 and s.database.url == "postgresql://x@h/db"
    assert s.clock.startswith("sim:")


def test_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nmax_frame_bytes = 10\n")
    with pytest.raises(ConfigError, match=r"server\.max_frame_bytes"):
        config.load(bad)
    bad.write_text('[server]\nhost = "127.0.0.1"\ndefault_version = "none"\n')
    assert config.load(bad).server.default_version is None
    bad.write_text('clock = "sundial"\n')
    with pytest.raises(ConfigError, match="clock"):
        config.load(bad)


def test_a_config_file_opening_registration_on_a_public_host_must_confirm(
    tmp_path: Path,
) -> None:
    path = tmp_path / "csms.toml"
    path.write_text('[server]\nhost = "0.0.0.0"\n[security]\nallow_unknown_stations = true\n')
    with pytest.raises(ConfigError, match=r"security\.allow_unknown_stations") as info:
        config.load(path)
    assert info.value.keys == ["security.allow_unknown_stations"]
    path.write_text(
        '[server]\nhost = "0.0.0.0"\n[security]\nallow_unknown_stations = true\n'
        "confirm_allow_unknown_stations = true\n"
    )
    assert config.load(path).security.allow_unknown_stations
    path.write_text('[server]\nhost = "127.0.0.1"\n[security]\nallow_unknown_stations = true\n')
    assert config.load(path).security.allow_unknown_stations  # loopback: a development box
