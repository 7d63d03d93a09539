"""The shared foundation: clock, config loading, the MQTT contract, the broker fixture."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest
from pydantic_settings import SettingsConfigDict

from evcommon import contract
from evcommon.clock import ManualClock, RealClock, SimClock, parse_clock
from evcommon.config import Section, SettingsBase, load_settings
from evcommon.errors import ConfigError, ContractError


class _Db(Section):
    url: str = "sqlite:///x.db"
    pool: int = 5


class _Cfg(SettingsBase):
    model_config = SettingsConfigDict(env_prefix="EVTEST_")
    name: str = "x"
    db: _Db = _Db()


def test_config_unknown_key_is_named(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('name = "a"\n[db]\nurl = "sqlite:///y"\npoool = 3\n')
    with pytest.raises(ConfigError, match=r"db\.poool: unknown key") as info:
        load_settings(_Cfg, f)
    assert str(f) in str(info.value)


def test_config_env_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "c.toml"
    f.write_text('name = "a"\n[db]\npool = 3\n')
    monkeypatch.setenv("EVTEST_DB__POOL", "9")
    cfg = load_settings(_Cfg, f)
    assert cfg.db.pool == 9 and cfg.name == "a"
    cfg = load_settings(_Cfg, f, overrides={"db": {"url": "postgresql://h/d"}})
    assert cfg.db.url == "postgresql://h/d" and cfg.db.pool == 9


def test_config_overrides_beat_env_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "c.toml"
    f.write_text('name = "file"\n[db]\npool = 3\nurl = "sqlite:///file"\n')
    monkeypatch.setenv("EVTEST_DB__URL", "sqlite:///env")
    cfg = load_settings(_Cfg, f, overrides={"db": {"url": "sqlite:///cli"}, "name": None})
    assert (cfg.name, cfg.db.url, cfg.db.pool) == ("file", "sqlite:///cli", 3)


def test_logger_created_before_configure_follows_it(capsys: pytest.CaptureFixture[str]) -> None:
    import structlog

    from evcommon.logs import configure_logging, get_logger

    log = get_logger("early", station_id="CP-1")
    configure_logging("info", "json")
    try:
        log.info("hello")
    finally:
        structlog.reset_defaults()
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert '"station_id": "CP-1"' in line and '"event": "hello"' in line


def test_config_bad_type_names_key(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[db]\npool = "many"\n')
    with pytest.raises(ConfigError, match=r"db\.pool"):
        load_settings(_Cfg, f)


def test_sim_clock_spec_roundtrip_and_speed() -> None:
    start = datetime(2026, 7, 1, tzinfo=UTC)
    clock = SimClock(start, speed=1440, origin=1_000.0)
    again = parse_clock(clock.spec())
    assert isinstance(again, SimClock)
    assert again.start == start and again.speed == 1440 and again.origin == 1_000.0
    assert isinstance(parse_clock("real"), RealClock)
    with pytest.raises(ConfigError):
        parse_clock("sim:speed=2")


async def test_sim_clock_runs_fast() -> None:
    clock = SimClock(datetime(2026, 7, 1, tzinfo=UTC), speed=3600)
    t0 = clock.now()
    await clock.sleep(36)  # 10 ms real
    assert clock.now() - t0 >= timedelta(seconds=36)


async def test_manual_clock_wakes_sleepers_in_order() -> None:
    clock = ManualClock()
    woke: list[str] = []

    async def sleeper(name: str, s: float) -> None:
        await clock.sleep(s)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("b", 20)), asyncio.create_task(sleeper("a", 10))]
    await asyncio.sleep(0)
    await clock.advance(15)
    assert woke == ["a"]
    await clock.advance(10)
    assert woke == ["a", "b"]
    await asyncio.gather(*tasks)


def test_contract_command_errors_name_the_field() -> None:
    with pytest.raises(ContractError, match="limt: unknown field"):
        contract.parse_command(
            b'{"command":"set_limit","correlation_id":"1","station_id":"CP","limt":3}'
        )
    with pytest.raises(ContractError, match="station_id"):
        contract.parse_command(b'{"command":"reset","correlation_id":"1"}')
    cmd = contract.parse_command(
        b'{"command":"set_limit","correlation_id":"1","station_id":"CP","limit_kw":3.3}'
    )
    assert isinstance(cmd, contract.SetLimit)
    assert cmd.periods()[0].limit_kw == 3.3


def test_contract_event_roundtrip() -> None:
    ev = contract.MeterValuesEvent(station_id="CP", connector_id=1, power_kw=3.3)
    back = contract.decode(contract.MeterValuesEvent, contract.encode(ev))
    assert back == ev
    with pytest.raises(ContractError):
        contract.decode(contract.SiteMeterReading, b'{"power_kw": "lots"}')


@pytest.mark.mqtt
async def test_private_broker_round_trip(mqtt_broker) -> None:  # type: ignore[no-untyped-def]
    topics = contract.Topics()
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
        await client.subscribe(topics.site_meter("s", "main"))
        reading = contract.SiteMeterReading(power_kw=42.0)
        await client.publish(topics.site_meter("s", "main"), contract.encode(reading))
        async with asyncio.timeout(5):
            async for msg in client.messages:
                got = contract.decode(contract.SiteMeterReading, msg.payload)  # type: ignore[arg-type]
                assert got.power_kw == 42.0
                break
    assert os.environ.get("EVSITE_CLOCK", "real")


def test_stdlib_log_lines_are_json(capsys: pytest.CaptureFixture[str]) -> None:
    """aiomqtt/paho log through stdlib logging: their lines must be JSON in a JSON log."""
    import json
    import logging

    import structlog

    from evcommon.logs import configure_logging

    configure_logging("info", "json")
    try:
        logging.getLogger("aiomqtt").warning("broker %s went away", "b1")
    finally:
        structlog.reset_defaults()
        logging.basicConfig(force=True)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    rec = json.loads(line)
    assert rec["event"] == "broker b1 went away" and rec["level"] == "warning"
    assert rec["logger"] == "aiomqtt" and "timestamp" in rec
