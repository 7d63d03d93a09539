"""deploy/mosquitto: a real mosquitto with our config refuses strangers and enforces the ACL."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from tests.ops.deployfiles import DEPLOY
from tests.plugins.infra import free_port

pytestmark = pytest.mark.mqtt
PASSWORDS = {
    "csms": "csms-pw",
    "edge": "edge-pw",
    "meters": "meters-pw",
    "dashboard": "dash-pw",
}


def make_certs(tmp: Path) -> Path:
    """A test CA and a server certificate for 127.0.0.1 (openssl)."""
    d = tmp / "certs"
    d.mkdir()

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    )
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
    )
    return d


@dataclass
class Broker:
    port: int
    tls_port: int
    ca_file: Path


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Broker]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    certs = make_certs(tmp_path)
    tls_port = free_port()
    tls = (
        (DEPLOY / "mosquitto" / "tls.conf")
        .read_text()
        .replace("/mosquitto/config/certs", str(certs))
        .replace("listener 8883 0.0.0.0", f"listener {tls_port} 127.0.0.1")
    )
    for port in _broker(tmp_path, tls):
        yield Broker(port, tls_port, certs / "ca.crt")


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[int]:
    yield from _broker(tmp_path, "")


def _broker(tmp_path: Path, extra: str) -> Iterator[int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    passwd_tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not Path(binary).exists() or not Path(passwd_tool).exists():
        pytest.skip("mosquitto / mosquitto_passwd not installed")
    passwd = tmp_path / "passwd"
    passwd.touch(mode=0o600)
    for user, password in PASSWORDS.items():
        subprocess.run([passwd_tool, "-b", str(passwd), user, password], check=True)
    port = free_port()
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    conf = (
        conf.replace("/mosquitto/data/passwd", str(passwd))
        .replace("/mosquitto/config/acl", str(DEPLOY / "mosquitto" / "acl"))
        .replace("listener 1883 0.0.0.0", f"listener {port} 127.0.0.1")
        .replace("persistence true", "persistence false")
        .replace("persistence_location /mosquitto/data/", "")
    )
    conf += "\n" + extra
    if os.geteuid() == 0:
        # as root mosquitto drops to user "mosquitto", who cannot read pytest's tmp dir
        conf += "\nuser root\n"
    (tmp_path / "mosquitto.conf").write_text(conf)
    log = (tmp_path / "mosquitto.log").open("wb")
    proc = subprocess.Popen(
        [binary, "-c", str(tmp_path / "mosquitto.conf")], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert proc.poll() is None, (tmp_path / "mosquitto.log").read_text()
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(5)


def client(port: int, user: str | None, password: str | None) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", port, username=user, password=password, timeout=5)


async def test_anonymous_and_wrong_password_are_refused(secured_broker: int) -> None:
    for user, password in ((None, None), ("csms", "wrong"), ("nobody", "x")):
        with pytest.raises(aiomqtt.MqttError):
            async with client(secured_broker, user, password):
                pass
    async with client(secured_broker, "csms", PASSWORDS["csms"]):
        pass


async def test_acl_meters_cannot_command_stations(secured_broker: int) -> None:
    got: list[tuple[str, bytes]] = []
    async with client(secured_broker, "csms", PASSWORDS["csms"]) as csms:
        await csms.subscribe("evsite/v1/#", qos=1)
        async with client(secured_broker, "meters", PASSWORDS["meters"]) as meters:
            # allowed: its own meter topic; denied (silently dropped): a command
            await meters.publish("evsite/v1/commands/CP-1", b"evil", qos=1)
            await meters.publish("evsite/v1/sites/s1/meters/main", b'{"power_kw": 1}', qos=1)
        async with client(secured_broker, "edge", PASSWORDS["edge"]) as edge:
            await edge.publish("evsite/v1/commands/CP-1", b"ok", qos=1)

        async def read() -> None:
            async for message in csms.messages:
                got.append((str(message.topic), bytes(message.payload)))  # type: ignore[arg-type]
                if message.payload == b"ok":
                    return

        await asyncio.wait_for(read(), 10)
    topics = dict(got)
    assert topics["evsite/v1/sites/s1/meters/main"] == b'{"power_kw": 1}'
    assert topics["evsite/v1/commands/CP-1"] == b"ok"
    assert (("evsite/v1/commands/CP-1", b"evil")) not in got


async def test_dashboard_reads_but_cannot_publish(secured_broker: int) -> None:
    got: list[str] = []
    async with client(secured_broker, "dashboard", PASSWORDS["dashboard"]) as dash:
        await dash.subscribe("evsite/v1/#", qos=1)
        # denied (silently dropped by the broker): a command and a site meter
        await dash.publish("evsite/v1/commands/CP-1", b"evil", qos=1)
        await dash.publish("evsite/v1/sites/s1/meters/main", b"evil", qos=1)
        async with client(secured_broker, "csms", PASSWORDS["csms"]) as csms:
            await csms.publish("evsite/v1/stations/CP-1/state", b"ok", qos=1)

        async def read() -> None:
            async for message in dash.messages:
                got.append(str(message.topic))
                if message.payload == b"ok":
                    return

        await asyncio.wait_for(read(), 10)
    assert got == ["evsite/v1/stations/CP-1/state"]


async def test_tls_listener_with_passwords(secured: Broker) -> None:
    ctx = ssl.create_default_context(cafile=str(secured.ca_file))
    async with aiomqtt.Client(
        "127.0.0.1",
        secured.tls_port,
        username="edge",
        password=PASSWORDS["edge"],
        tls_context=ctx,
        timeout=5,
    ) as edge:
        await edge.publish("evsite/v1/commands/CP-1", b"over tls", qos=1)
    with pytest.raises(aiomqtt.MqttError):  # plain MQTT to the TLS port
        async with client(secured.tls_port, "edge", PASSWORDS["edge"]):
            pass
    untrusted = ssl.create_default_context()  # the system CAs do not know the test CA
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(
            "127.0.0.1",
            secured.tls_port,
            username="edge",
            password=PASSWORDS["edge"],
            tls_context=untrusted,
            timeout=5,
        ):
            pass
    with pytest.raises(aiomqtt.MqttError):  # TLS does not replace the password
        async with aiomqtt.Client(
            "127.0.0.1",
            secured.tls_port,
            username="edge",
            password="wrong",
            tls_context=ctx,
            timeout=5,
        ):
            pass
