"""The daemon against a real mosquitto and a contract peer answering commands (ManualClock)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.config import EdgeConfig, load_site_config
from edge.daemon.app import EdgeApp
from evcommon.clock import ManualClock
from evcommon.contract import CommandReply
from tests.plugins.edge import ContractPeer, running_edge, small_site_toml

pytestmark = pytest.mark.mqtt
SITE = "test-site"
NIGHT = datetime(2026, 7, 2, 7, 0, tzinfo=UTC)  # 00:00 PDT: fleet-1 and fleet-2 windows open
EVENING = datetime(2026, 7, 2, 5, 0, tzinfo=UTC)  # 22:00 PDT: fleet-2 opens at 23:30


def config(broker: Any, tmp_path: Path, **control: Any) -> EdgeConfig:
    path = tmp_path / "site.toml"
    path.write_text(small_site_toml(broker.host, broker.port))
    return load_site_config(path, overrides={"control": control} if control else None)


async def step(clock: ManualClock, seconds: float, settle: float = 0.15) -> None:
    """Advance simulated time, then give real network round trips a moment."""
    await clock.advance(seconds)
    await asyncio.sleep(settle)


async def start_site(
    peer: ContractPeer,
    clock: ManualClock,
    charging: tuple[str, ...],
    main_kw: float = 10.0,
    dcfc_kw: float = 0.0,
) -> None:
    """Meters, stations online, vehicles plugged in; then the min command period passes
    (limits sent while the site state was still arriving may hold back the final ones)."""
    at = clock.now()
    await peer.meter(SITE, "main", main_kw, at)
    await peer.meter(SITE, "dcfc", dcfc_kw, at)
    for sid in ("F1", "F2", "P1", "P2"):
        await peer.station_online(sid, at)
    for sid in charging:
        await peer.status(sid, "Charging", at)
    await asyncio.sleep(0.3)
    await step(clock, 5)


async def until(pred: Any, timeout_s: float = 5.0) -> None:
    """Poll a condition on the daemon's in-memory state (no event to await for metrics)."""
    for _ in range(int(timeout_s / 0.02)):
        if pred():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


def limits_now(peer: ContractPeer) -> dict[str, float | None]:
    return {sid: peer.last_limit(sid) for sid in ("F1", "F2", "P1", "P2")}


async def test_startup_installs_safe_limits_and_limits_vehicles(
    mqtt_broker, contract_peer, tmp_path
):
    clock = ManualClock(EVENING)
    app = EdgeApp(config(mqtt_broker, tmp_path), clock)
    async with running_edge(app):
        await start_site(contract_peer, clock, charging=("F1", "F2", "P1"))
        safe = await contract_peer.wait_for(
            lambda cs: (
                {c.station_id: c for c in cs if c.command == "install_safe_limits"}
                if len({c.station_id for c in cs if c.command == "install_safe_limits"}) == 4
                else None
            )
        )
        assert safe["F1"].connector_default_kw == 1.65 and safe["P1"].connector_default_kw == 0
        assert "DC" not in safe  # uncontrolled
        await contract_peer.wait_for(
            lambda cs: limits_now(contract_peer) == {"F1": 6.6, "F2": 0.0, "P1": 6.6, "P2": 0.0}
        )
        cmd = contract_peer.set_limits("F1")[-1]
        assert cmd.valid_to in (EVENING + timedelta(seconds=s) for s in (180, 185))
        assert cmd.stack_level == 1 and cmd.purpose == "tx_default" and cmd.number_phases == 1
        assert cmd.reply_to == "evsite/v1/replies/edge-test-site"
        await until(
            lambda: (
                (app.metrics.value("edge_commands_sent_total", {"command": "set_limit"}) or 0) >= 4
            )
        )
        # every limit is either 0 or at least the floor
        assert all(c.limit_kw == 0 or c.limit_kw >= 1.5 for c in contract_peer.set_limits())


async def test_window_opens_at_its_local_time(mqtt_broker, contract_peer, tmp_path):
    clock = ManualClock(EVENING)
    app = EdgeApp(config(mqtt_broker, tmp_path, stale_after_s=10_000), clock)
    async with running_edge(app):
        await start_site(contract_peer, clock, charging=("F2",))
        await contract_peer.wait_for(lambda cs: contract_peer.last_limit("F2") == 0.0)
        for _ in range(89):  # to 23:29:05 local
            await clock.advance(60)
        await asyncio.sleep(0.2)
        assert contract_peer.last_limit("F2") == 0.0
        await step(clock, 55)  # 23:30 local = 06:30 UTC
        await contract_peer.wait_for(lambda cs: contract_peer.last_limit("F2") == 6.6)
        opened = contract_peer.set_limits("F2")[-1]
        assert opened.valid_from == datetime(2026, 7, 2, 6, 30, tzinfo=UTC)
        assert app.controller.last_outcome is not None
        assert app.controller.last_outcome.windows_open["fleet-2"]


async def test_dcfc_shed_reacts_to_the_reading_and_releases_after_hold(
    mqtt_broker, contract_peer, tmp_path
):
    clock = ManualClock(NIGHT)
    app = EdgeApp(config(mqtt_broker, tmp_path), clock)
    async with running_edge(app):
        await start_site(contract_peer, clock, charging=("F1", "F2"))
        await contract_peer.wait_for(lambda cs: contract_peer.last_limit("F2") == 6.6)
        await step(clock, 20)
        n_before = len(contract_peer.set_limits("F2"))
        crossing = clock.now()
        await contract_peer.meter(SITE, "dcfc", 42.0, crossing)  # no clock movement after
        await contract_peer.wait_for(lambda cs: contract_peer.last_limit("F2") == 1.65)
        assert contract_peer.set_limits("F2")[-1].valid_from == crossing
        assert len(contract_peer.set_limits("F2")) == n_before + 1
        assert contract_peer.last_limit("F1") == 6.6  # fleet-1 is not a shed group
        assert app.metrics.value("edge_shed_active") == 1
        await step(clock, 10)
        await contract_peer.meter(SITE, "dcfc", 3.0, clock.now())  # within the 30 s hold
        await asyncio.sleep(0.3)
        assert contract_peer.last_limit("F2") == 1.65
        await contract_peer.meter(SITE, "dcfc", 9.0, clock.now())  # above release (8 kW)
        await asyncio.sleep(0.1)
        await step(clock, 25, settle=0.3)  # hold over; the tick re-reads 9.0: still held
        assert contract_peer.last_limit("F2") == 1.65
        await contract_peer.meter(SITE, "dcfc", 2.0, clock.now())
        await contract_peer.wait_for(lambda cs: contract_peer.last_limit("F2") == 6.6)
        assert app.metrics.value("edge_shed_active") == 0


async def test_stale_meter_falls_back_to_safe_limits_and_recovers(
    mqtt_broker, contract_peer, tmp_path
):
    clock = ManualClock(NIGHT)
    app = EdgeApp(config(mqtt_broker, tmp_path), clock)
    async with running_edge(app):
        await start_site(contract_peer, clock, charging=("F1", "P1"))
        await contract_peer.wait_for(lambda cs: contract_peer.last_limit("P1") == 6.6)
        for _ in range(4):  # 240 s without meter readings (stale after 180 s)
            await step(clock, 60)
        await contract_peer.wait_for(
            lambda cs: (
                contract_peer.last_limit("F1") == 1.65 and contract_peer.last_limit("P1") == 0
            )
        )
        assert app.metrics.value("edge_meter_stale", {"meter": "main"}) == 1
        await contract_peer.meter(SITE, "main", 10.0, clock.now())
        await contract_peer.meter(SITE, "dcfc", 0.0, clock.now())
        await step(clock, 5)  # the min command period since the fallback
        await contract_peer.wait_for(
            lambda cs: (
                contract_peer.last_limit("F1") == 6.6 and contract_peer.last_limit("P1") == 6.6
            )
        )
        assert app.metrics.value("edge_meter_stale", {"meter": "main"}) == 0


async def test_site_import_limit_and_floor(mqtt_broker, contract_peer, tmp_path):
    clock = ManualClock(NIGHT)
    app = EdgeApp(config(mqtt_broker, tmp_path), clock)
    async with running_edge(app):
        # 60 kW contract, 50.5 kW non-EV: 9.5 kW for four vehicles -> 2.375 kW each
        await start_site(contract_peer, clock, charging=("F1", "F2", "P1", "P2"), main_kw=50.5)
        got = await contract_peer.wait_for(
            lambda cs: None not in limits_now(contract_peer).values() and limits_now(contract_peer)
        )
        assert sum(v for v in got.values() if v) <= 9.5 + 1e-9
        assert all(v >= 1.5 for v in got.values())
        # 56 kW non-EV leaves 4 kW: two at the floor or more, two at 0
        await contract_peer.meter(SITE, "main", 56.0, clock.now())
        await step(clock, 60)
        got = await contract_peer.wait_for(
            lambda cs: (
                list(limits_now(contract_peer).values()).count(0.0) == 2
                and limits_now(contract_peer)
            )
        )
        assert sum(v for v in got.values() if v) <= 4.0
        assert all(v == 0 or v >= 1.5 for v in got.values())


async def test_bad_meter_payload_is_counted_and_ignored(mqtt_broker, contract_peer, tmp_path):
    clock = ManualClock(NIGHT)
    app = EdgeApp(config(mqtt_broker, tmp_path), clock)
    async with running_edge(app):
        await start_site(contract_peer, clock, charging=("P1",))
        await contract_peer.wait_for(lambda cs: contract_peer.last_limit("P1") == 6.6)
        topic = contract_peer.topics.site_meter(SITE, "main")
        assert contract_peer._client is not None
        for bad in (b"garbage", b'{"power_kw": "lots"}', b"{}"):
            await contract_peer._client.publish(topic, bad, qos=1)
        await contract_peer.meter(SITE, "main", 57.0, clock.now())  # a good one still counts
        await step(clock, 60)
        await contract_peer.wait_for(lambda cs: contract_peer.last_limit("P1") == 3.0)
        assert app.metrics.value("edge_bad_meter_payloads_total", {"meter": "main"}) == 3


async def test_command_errors_are_retried_and_never_stop_the_loop(
    mqtt_broker, contract_peer, tmp_path
):
    clock = ManualClock(NIGHT)
    app = EdgeApp(config(mqtt_broker, tmp_path), clock)
    failures = {"n": 0}

    def flaky(cmd: Any) -> CommandReply | None:
        if cmd.command == "set_limit" and cmd.station_id == "P1":
            failures["n"] += 1
            if failures["n"] <= 2:
                return CommandReply.failure(cmd.correlation_id, "internal", "database busy")
            if failures["n"] <= 5:
                return None  # silence: the edge times out
        return CommandReply.success(cmd.correlation_id)

    contract_peer.respond = flaky
    async with running_edge(app):
        await start_site(contract_peer, clock, charging=("P1", "F1"))
        await contract_peer.wait_for(lambda cs: len(contract_peer.set_limits("P1")) >= 3)
        m = app.metrics
        await until(
            lambda: (
                m.value("edge_commands_failed_total", {"command": "set_limit", "code": "internal"})
                == 2
            )
        )
        await step(clock, 60, settle=2.0)  # the next tick still runs; timeouts then success
        await contract_peer.wait_for(
            lambda cs: len(contract_peer.set_limits("P1")) >= 6, timeout_s=8
        )
        await asyncio.sleep(0.2)
        timeouts = m.value(
            "edge_commands_failed_total", {"command": "set_limit", "code": "timeout"}
        )
        assert timeouts is not None and timeouts >= 1
        assert contract_peer.last_limit("F1") == 6.6
        assert app.controller.ticks >= 2


async def test_refresh_before_valid_to_and_deadband(mqtt_broker, contract_peer, tmp_path):
    clock = ManualClock(NIGHT)
    app = EdgeApp(config(mqtt_broker, tmp_path, deadband_kw=0.5), clock)
    async with running_edge(app):
        await start_site(contract_peer, clock, charging=("P1", "P2"), main_kw=48.0)
        await contract_peer.wait_for(lambda cs: contract_peer.last_limit("P1") == 6.0)
        n = len(contract_peer.set_limits("P1"))
        await contract_peer.meter(SITE, "main", 47.6, clock.now())  # share 6.2: inside deadband
        await step(clock, 60)
        assert len(contract_peer.set_limits("P1")) == n
        await step(clock, 60)  # 120 s after the last send: refreshed before validTo (180 s)
        await contract_peer.wait_for(lambda cs: len(contract_peer.set_limits("P1")) == n + 1)
        last = contract_peer.set_limits("P1")[-1]
        assert last.valid_from is not None and last.valid_to is not None
        assert last.valid_from >= NIGHT + timedelta(seconds=120)
        assert last.valid_to == last.valid_from + timedelta(seconds=180)
