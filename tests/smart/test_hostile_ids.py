"""Hostile station ids: refused at the handshake and in the CLI, and a message the broker
client refuses never takes the MQTT bridge (and every station's commands) down."""

from __future__ import annotations

from typing import Any

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from csms import cli, security
from csms.app import CsmsApp
from csms.bridge.outbox import Outgoing
from tests.smart.test_e2e_mqtt import charging, set_limit, site


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("EVIL%231", "MQTT wildcard"),
        ("A+B", "MQTT wildcard"),
        ("A%2FB", "path separator"),
        ("NUL%00", "non-printable"),
        ("caf%C3%A9", "non-ASCII"),
        ("X" * 49, "longer than 48"),
    ],
)
async def test_unsafe_station_id_is_refused_at_the_handshake(
    csms_app: CsmsApp, path: str, why: str
) -> None:
    with pytest.raises(InvalidStatus) as info:
        await websockets.connect(f"{csms_app.url}/{path}", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    assert info.value.response.status_code == 400
    assert why in info.value.response.body.decode()
    assert csms_app.core.connections == {}


def test_station_id_rules() -> None:
    assert security.station_id_problem("CP-1_a.b:c*d") is None
    assert security.station_id_problem("X" * 48) is None
    assert security.station_id_problem("") == "station id is empty"
    assert "wildcard" in (security.station_id_problem("A#") or "")


def test_cli_refuses_an_unsafe_station_id(tmp_path: Any, capsys: Any) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert cli.main(["stations", "add", "EVIL#1", "--db", db]) == 2
    assert "MQTT wildcard" in capsys.readouterr().err
    assert cli.main(["stations", "add", "GOOD-1", "--db", db]) == 0


@pytest.mark.mqtt
async def test_a_refused_publish_is_dropped_alone_and_commands_keep_flowing(
    mqtt_broker: Any, sqlite_url: str
) -> None:
    async with site(mqtt_broker, sqlite_url, "1.6") as (app, station, probe, clock):
        await charging(station, probe)
        bridge: Any = app.registry["mqtt"]
        # defence in depth: should a wildcard ever reach a topic, paho refuses the publish
        bridge.outbox.put_state("evsite/v1/stations/EVIL#1/state", b"{}")
        bridge.outbox.put_event(Outgoing("evsite/v1/stations/EVIL+2/alarms", b"{}"))
        reply = await probe.command("CP1", set_limit(clock), timeout_s=10)
        assert reply.ok, reply.error
        assert station.limit_kw(1) == pytest.approx(3.3)
        assert bridge.outbox.metrics.publish_errors._value.get() == 2
        # ... and the bridge did not reconnect to retry them: one online state only
        assert probe.count(probe.topics.csms_state) == 1
