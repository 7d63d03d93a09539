"""Running as a service: SIGTERM during traffic loses nothing acknowledged; sd_notify works.

The CSMS runs as a real ``csms serve`` subprocess (SQLite), driven by raw OCPP 1.6J
frames over websockets, as systemd would run it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import websockets

from tests.plugins.infra import Broker, free_port

BIN = Path(sys.executable).parent


def start_csms(
    tmp_path: Path, db: Path | str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = (tmp_path / "csms.log").open("wb")
    proc = subprocess.Popen(
        [
            str(BIN / "csms"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--db",
            db if isinstance(db, str) else f"sqlite:///{db}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "CSMS_SERVER__METRICS_PORT": "-1",
            "CSMS_LOGGING__FORMAT": "json",
            **(env or {}),
        },
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    proc.kill()
    pytest.fail(f"csms did not start: {(tmp_path / 'csms.log').read_text()[-2000:]}")


class Station:
    """A minimal OCPP 1.6J station: boots, then sends numbered MeterValues one at a time."""

    def __init__(self, url: str, station_id: str, on_ack: Callable[[], None]):
        self.url, self.station_id, self.on_ack = url, station_id, on_ack
        self.acked: list[int] = []
        self.sent = 0
        self.close_code: int | None = None

    async def call(self, ws: websockets.ClientConnection, action: str, payload: dict) -> dict:
        msg_id = uuid.uuid4().hex
        await ws.send(json.dumps([2, msg_id, action, payload]))
        while True:
            frame = json.loads(await ws.recv())
            if frame[0] in (3, 4) and frame[1] == msg_id:
                if frame[0] == 4:
                    raise RuntimeError(f"{action}: CALLERROR {frame[2]}")
                return frame[2]

    async def run(self, started: asyncio.Event) -> None:
        try:
            async with websockets.connect(
                f"{self.url}/{self.station_id}", subprotocols=["ocpp1.6"]
            ) as ws:
                boot = await self.call(
                    ws,
                    "BootNotification",
                    {"chargePointVendor": "ops", "chargePointModel": "burst"},
                )
                assert boot["status"] == "Accepted", boot
                started.set()
                seq = 0
                while True:
                    seq += 1
                    self.sent = seq
                    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
                    await self.call(
                        ws,
                        "MeterValues",
                        {
                            "connectorId": 1,
                            "meterValue": [
                                {
                                    "timestamp": now,
                                    "sampledValue": [
                                        {
                                            "value": str(seq),
                                            "measurand": "Energy.Active.Import.Register",
                                            "unit": "Wh",
                                        }
                                    ],
                                }
                            ],
                        },
                    )
                    self.acked.append(seq)
                    self.on_ack()
        except websockets.ConnectionClosed as exc:
            self.close_code = exc.rcvd.code if exc.rcvd else None
        except OSError:
            pass  # refused after the listener closed


async def stored_meter_values(db_url: str) -> set[tuple[str, str]]:
    from sqlalchemy import text

    from csms.db.database import Database

    async with Database(db_url) as db, db.session() as session:
        rows = await session.execute(
            text("select station_id, value from meter_values where source = 'MeterValues'")
        )
        return {(str(r[0]), str(r[1])) for r in rows}


async def test_sigterm_during_burst_loses_no_acknowledged_meter_value(
    tmp_path: Path, database_url: str
) -> None:
    db = database_url
    proc, port = start_csms(tmp_path, db)
    mid_burst = asyncio.Event()
    acks = [0]

    def on_ack() -> None:
        acks[0] += 1
        if acks[0] >= 300:
            mid_burst.set()

    url = f"ws://127.0.0.1:{port}/ocpp"
    stations = [Station(url, f"BURST-{i:02d}", on_ack) for i in range(12)]
    started = [asyncio.Event() for _ in stations]
    tasks = [
        asyncio.create_task(s.run(e), name=s.station_id)
        for s, e in zip(stations, started, strict=True)
    ]
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started)), 30)
        await asyncio.wait_for(mid_burst.wait(), 60)
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 30)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "csms.log").read_text()
    assert code == 0, log[-2000:]
    acked = {(s.station_id, str(n)) for s in stations for n in s.acked}
    stored = await stored_meter_values(db)
    assert len(acked) >= 300
    missing = acked - stored
    assert not missing, f"{len(missing)} acknowledged meter values lost, e.g. {sorted(missing)[:5]}"
    # websockets closed by the server with "going away", not dropped
    assert {s.close_code for s in stations} <= {1001}, [s.close_code for s in stations]


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    try:
        yield sock, path
    finally:
        sock.close()


def collect(sock: socket.socket, until: str, timeout_s: float) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            got.extend(sock.recv(4096).decode().splitlines())
        except TimeoutError:
            continue
        if until in got:
            break
    return got


def test_csms_speaks_the_systemd_notify_protocol(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"}
    proc, _port = start_csms(tmp_path, tmp_path / "csms.db", env)
    try:
        got = collect(sock, "WATCHDOG=1", 20)
        assert "READY=1" in got
        assert "WATCHDOG=1" in got
        proc.send_signal(signal.SIGTERM)
        got = collect(sock, "STOPPING=1", 20)
        assert "STOPPING=1" in got
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


EDGE_SITE = """
[site]
id = "notify-test"
import_limit_kw = 100

[mqtt]
host = "127.0.0.1"
port = {port}

[metrics]
enabled = false

[groups.public]
safe_limit_kw = 1.65

[stations.CP-1.connectors.1]
group = "public"
max_power_kw = 6.6
"""


@pytest.mark.mqtt
def test_edge_speaks_the_systemd_notify_protocol(
    tmp_path: Path, notify_socket: tuple[socket.socket, str], mqtt_broker: Broker
) -> None:
    sock, path = notify_socket
    site = tmp_path / "site.toml"
    site.write_text(EDGE_SITE.format(port=mqtt_broker.port))
    log = (tmp_path / "edge.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN / "edge"), "run", "--config", str(site)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"},
    )
    try:
        got = collect(sock, "WATCHDOG=1", 30)
        assert "READY=1" in got, (tmp_path / "edge.log").read_text()[-2000:]
        assert "WATCHDOG=1" in got
        time.sleep(0.5)  # connected to the broker, as in service
        proc.send_signal(signal.SIGTERM)
        got = collect(sock, "STOPPING=1", 20)
        assert "STOPPING=1" in got
        assert proc.wait(30) == 0, (tmp_path / "edge.log").read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
