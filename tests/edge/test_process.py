"""The daemon as a process (`edge run`): metrics over HTTP, SIGTERM shutdown; and MQTT
reconnect after the broker restarts."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest

from edge.config import load_site_config
from edge.daemon.app import EdgeApp
from evcommon.clock import ManualClock
from tests.plugins.edge import ContractPeer, running_edge, small_site_toml
from tests.plugins.infra import Broker, _mosquitto_binary, free_port

pytestmark = pytest.mark.mqtt


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return str(resp.read().decode())


async def test_edge_run_serves_metrics_and_stops_cleanly_on_sigterm(mqtt_broker, tmp_path):
    port = free_port()
    text = small_site_toml(mqtt_broker.host, mqtt_broker.port).replace(
        "[metrics]\nenabled = false", f"[metrics]\nport = {port}"
    )
    path = tmp_path / "site.toml"
    path.write_text(text)
    state_topic = "evsite/v1/sites/test-site/edge/state"
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
        await client.subscribe(state_topic, qos=1)
        env = {**os.environ, "EVSITE_CLOCK": "sim:start=2026-07-02T07:00:00Z,speed=60"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "edge.cli",
            "run",
            "--config",
            str(path),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            async with asyncio.timeout(20):
                async for m in client.messages:
                    if orjson.loads(bytes(m.payload))["online"]:  # type: ignore[arg-type]
                        break
            body = ""
            for _ in range(100):
                try:
                    body = await asyncio.to_thread(_fetch, f"http://127.0.0.1:{port}/metrics")
                except OSError:
                    body = ""
                if "edge_ticks_total" in body:
                    break
                await asyncio.sleep(0.1)
            for name in (
                "edge_site_power_kw",
                "edge_meter_stale",
                "edge_tick_duration_seconds",
                "edge_commands_sent_total",
                "edge_ticks_total",
            ):
                assert name in body, name
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                async for m in client.messages:
                    if not orjson.loads(bytes(m.payload))["online"]:  # type: ignore[arg-type]
                        break
                assert await proc.wait() == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.stdout is not None
    out = (await proc.stdout.read()).decode()
    assert "edge stopping" in out


def _start_broker(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    binary = _mosquitto_binary()
    assert binary, "mosquitto is not installed"
    conf = tmp / f"mosquitto-{port}.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise AssertionError("mosquitto did not start")


async def test_reconnects_after_broker_restart(tmp_path):
    port = free_port()
    broker: Any = Broker("127.0.0.1", port)
    proc = _start_broker(tmp_path, port)
    path = tmp_path / "site.toml"
    path.write_text(small_site_toml(broker.host, port))
    clock = ManualClock()
    app = EdgeApp(load_site_config(path), clock)
    try:
        async with running_edge(app):
            assert app.metrics.value("edge_mqtt_connected") == 1
            proc.terminate()
            proc.wait(5)
            for _ in range(500):  # the link notices the lost broker
                if not app.link.connected.is_set():
                    break
                await asyncio.sleep(0.02)
            assert app.metrics.value("edge_mqtt_connected") == 0
            proc = _start_broker(tmp_path, port)
            async with asyncio.timeout(10):
                await app.link.connected.wait()
            # subscriptions are back: a station coming online gets its safe limits
            async with ContractPeer(broker.host, port) as peer:
                await peer.station_online("F1", clock.now())
                cmd = await peer.wait_for(
                    lambda cs: [c for c in cs if c.command == "install_safe_limits"]
                )
                assert cmd[0].station_id == "F1"
    finally:
        proc.terminate()
        proc.wait(5)
