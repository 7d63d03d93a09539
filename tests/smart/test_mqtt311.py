"""The bridge with ``[mqtt] protocol = "3.1.1"``: no properties anywhere, replies go to
the payload's ``reply_to``, retained state as with MQTT 5. Real mosquitto (speaks both)."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import pytest

from csms.bridge.config import MqttSection
from csms.config import CsmsSettings
from evcommon import contract
from evcommon.clock import SimClock
from evcommon.config import ConfigError, load_settings
from simulators.chargepoint.config import StationConfig
from simulators.chargepoint.station import SimStation
from simulators.demo.broker import amqtt_dir, start_amqtt
from tests.plugins.infra import Broker
from tests.plugins.smart import ContractProbe, contract_probe, run_csms

pytestmark = pytest.mark.mqtt
V311 = aiomqtt.ProtocolVersion.V311
MQTT311 = {"protocol": "3.1.1"}


def is_reply(probe: ContractProbe, cid: str) -> Any:
    return lambda t, d: t == probe.topics.replies("edge-311") and d.get("correlation_id") == cid


def set_limit(clock: SimClock, cid: str, **kw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "command": "set_limit",
        "correlation_id": cid,
        "station_id": "CP1",
        "connector_id": 1,
        "purpose": "tx_default",
        "limit_kw": 3.3,
        "valid_to": (clock.now() + timedelta(hours=1)).isoformat(),
        "reply_to": "evsite/v1/replies/edge-311",
    }
    return {**fields, **kw}


async def test_bridge_in_311_mode_replies_once_via_reply_to(mqtt_broker, sqlite_url) -> None:
    await replies_once_and_retains(mqtt_broker, sqlite_url)


async def test_bridge_in_311_mode_with_an_mqtt311_only_broker(tmp_path, sqlite_url) -> None:
    """amqtt (the demo's fallback broker) speaks 3.1.1 only; skipped when the demo has
    not installed it on this machine (tests/ops does, on first use)."""
    if not (amqtt_dir() / "amqtt").is_dir():
        pytest.skip("amqtt is not installed (evsim demo --broker amqtt installs it)")
    broker = await asyncio.to_thread(start_amqtt, tmp_path, io.StringIO())
    try:
        await replies_once_and_retains(Broker(broker.host, broker.port), sqlite_url)
    finally:
        await asyncio.to_thread(broker.stop)


async def replies_once_and_retains(mqtt_broker: Broker, sqlite_url: str) -> None:
    clock = SimClock(datetime(2026, 7, 1, 8, tzinfo=UTC), speed=60.0)
    station_cfg = StationConfig(station_id="CP1", ocpp_version="1.6", preset="L2")
    async with (
        contract_probe(mqtt_broker, V311) as probe,
        run_csms(mqtt_broker, sqlite_url, clock, mqtt=MQTT311) as app,
        SimStation(station_cfg, app.url, clock) as station,
    ):
        assert app.registry["mqtt"].settings.protocol == "3.1.1"  # type: ignore[attr-defined]
        await station.wait_accepted()
        await probe.send("CP1", set_limit(clock, "c-311"), mqtt5=False)
        _, reply = await probe.wait_for(is_reply(probe, "c-311"))
        assert reply["ok"], reply.get("error")
        assert reply["data"]["limit_kw"] == pytest.approx(3.3, abs=0.05)
        assert station.limit_kw(1) == pytest.approx(3.3, abs=0.05)
        # the same command again (a redelivery) is not answered; a later one is, so by
        # the time its reply arrives a second reply to c-311 would have arrived too
        await probe.send("CP1", set_limit(clock, "c-311"), mqtt5=False)
        bad = set_limit(clock, "c-bad", limit_kw="lots")
        await probe.send("CP1", bad, mqtt5=False)
        _, err = await probe.wait_for(is_reply(probe, "c-bad"))
        assert err["error"]["code"] == "invalid_command"
        replies = [t for t, raw, _ in probe.messages if t.endswith("/replies/edge-311")]
        assert len(replies) == 2  # c-311 once, c-bad once
        # a 3.1.1 subscriber gets no properties at all
        assert all(props is None for t, _, props in probe.messages if "/replies/" in t)

        # the retained state topics reach a client that subscribes only now
        async with contract_probe(mqtt_broker, V311) as late:
            topics = late.topics
            await late.wait_for(lambda t, d: t == topics.csms_state and d["online"])
            await late.wait_for(lambda t, d: t == topics.station_state("CP1") and d["online"])
            await late.wait_for(lambda t, d: t == topics.connector_status("CP1", 1))


async def test_mqtt5_response_topic_is_not_used_in_311_mode(mqtt_broker, sqlite_url) -> None:
    """An MQTT 5 sender's properties are stripped on the way to a 3.1.1 bridge: without
    reply_to there is no reply; with it the reply goes to reply_to, not the response topic."""
    clock = SimClock(datetime(2026, 7, 1, 8, tzinfo=UTC), speed=60.0)
    async with (
        contract_probe(mqtt_broker) as probe,  # MQTT 5
        run_csms(mqtt_broker, sqlite_url, clock, mqtt=MQTT311),
    ):
        no_reply_to = {"command": "reset", "correlation_id": "r-1", "station_id": "CPX"}
        await probe.send("CPX", no_reply_to)  # response topic + correlation data
        with_reply_to = {**no_reply_to, "correlation_id": "r-2"}
        with_reply_to["reply_to"] = "evsite/v1/replies/edge-311"
        await probe.send("CPX", with_reply_to)
        _, reply = await probe.wait_for(is_reply(probe, "r-2"))
        assert reply["error"]["code"] in ("unknown_station", "station_offline")
        assert probe.count(probe.reply_topic) == 0
        sent = [
            contract.decode(contract.CommandReply, raw)
            for t, raw, _ in probe.messages
            if "/replies/" in t
        ]
        assert [r.correlation_id for r in sent] == ["r-2"]


def test_protocol_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert MqttSection().protocol == "5"
    assert MqttSection(protocol=5).protocol == "5"  # TOML protocol = 5
    monkeypatch.setenv("CSMS_MQTT__PROTOCOL", "3.1.1")
    assert load_settings(CsmsSettings).mqtt.protocol == "3.1.1"
    monkeypatch.setenv("CSMS_MQTT__PROTOCOL", "4")
    with pytest.raises(ConfigError, match="protocol"):
        load_settings(CsmsSettings)
