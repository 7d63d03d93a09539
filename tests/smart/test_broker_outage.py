"""The broker goes away and comes back (without persistence): the bridge reconnects
and publishes the latest retained state again; OCPP handling never blocks."""

from __future__ import annotations

import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evcommon.clock import SimClock
from simulators.chargepoint.config import StationConfig
from simulators.chargepoint.station import SimStation
from simulators.chargepoint.testing import ConstantEv
from tests.plugins.infra import Broker, _mosquitto_binary, free_port
from tests.plugins.smart import contract_probe, run_csms

pytestmark = pytest.mark.mqtt


def mosquitto(port: int, tmp: Path) -> subprocess.Popen[bytes]:
    binary = _mosquitto_binary()
    assert binary is not None, "mosquitto is not installed"
    conf = tmp / f"mosquitto-{port}.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("mosquitto did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


async def test_state_survives_a_broker_restart(tmp_path, sqlite_url) -> None:
    port = free_port()
    broker = Broker("127.0.0.1", port)
    proc = mosquitto(port, tmp_path)
    clock = SimClock(datetime(2026, 7, 1, tzinfo=UTC), speed=120)
    cfg = StationConfig(station_id="CP1", preset="L2", meter_interval_s=60)
    try:
        async with (
            run_csms(broker, sqlite_url, clock) as app,
            SimStation(cfg, app.url, clock) as st,
        ):
            await st.wait_accepted()
            bridge = app.registry["mqtt"]
            stop(proc)
            while bridge.connected.is_set():  # type: ignore[attr-defined]
                await clock.sleep(1)
            # OCPP keeps flowing while the broker is down; the sinks never block
            assert await st.plug_in(1, ConstantEv(max_kw=7.2))
            await clock.sleep(150)  # a couple of meter intervals
            proc = mosquitto(port, tmp_path)  # empty: retained messages are gone
            await clock.sleep(1)
            async with contract_probe(broker) as probe:
                topics = probe.topics
                await probe.wait_for(lambda t, d: t == topics.csms_state and d["online"])
                await probe.wait_for(lambda t, d: t == topics.station_state("CP1") and d["online"])
                await probe.wait_for(
                    lambda t, d: t == topics.connector_meter("CP1", 1) and d["power_kw"] > 6
                )
                await probe.wait_for(
                    lambda t, d: (
                        t == topics.connector_status("CP1", 1) and d["status"] == "Charging"
                    )
                )
            assert bridge.outbox.dropped == 0  # type: ignore[attr-defined]
    finally:
        stop(proc)
