"""An MQTT broker for the demo: mosquitto when installed, else an embedded amqtt.

amqtt pins an older ``websockets`` than the project uses, so it is installed
into a directory of its own (``~/.cache/evsite/amqtt-broker-py3XX``, first use only) and run as
a separate process with that directory on its path; the project's own
environment is never touched. amqtt speaks MQTT 3.1.1 only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

BrokerKind = Literal["auto", "mosquitto", "amqtt"]

AMQTT_RUNNER = """
import asyncio, sys
from amqtt.broker import Broker

async def main(port: int) -> None:
    broker = Broker({
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
        },
    })
    await broker.start()
    try:
        await asyncio.Event().wait()
    finally:
        await broker.shutdown()

try:
    asyncio.run(main(int(sys.argv[1])))
except KeyboardInterrupt:
    pass
"""


class BrokerError(RuntimeError):
    """No broker could be started."""


@dataclass
class RunningBroker:
    kind: Literal["mosquitto", "amqtt"]
    host: str
    port: int
    process: subprocess.Popen[bytes]
    description: str

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


def amqtt_dir() -> Path:
    """Per user and Python version (its wheels are compiled), kept across checkouts."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "evsite" / f"amqtt-broker-py{sys.version_info.major}{sys.version_info.minor}"


def ensure_amqtt(log: IO[str]) -> Path:
    """Install amqtt into its own directory on first use; returns that directory."""
    target = amqtt_dir()
    if (target / "amqtt").is_dir():
        return target
    print(f"demo: installing the embedded broker (amqtt) into {target}", file=log, flush=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--target", str(target), "amqtt>=0.11"],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BrokerError(f"could not install amqtt: {proc.stderr.strip()[-500:]}")
    return target


def _wait_listening(proc: subprocess.Popen[bytes], port: int, logfile: Path, what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    proc.kill()
    raise BrokerError(f"{what} did not start on port {port}: {logfile.read_text()[-1000:]}")


def start_mosquitto(workdir: Path, binary: str) -> RunningBroker:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 100000\n"
    )
    logfile = workdir / "mosquitto.log"
    with logfile.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    _wait_listening(proc, port, logfile, "mosquitto")
    return RunningBroker("mosquitto", "127.0.0.1", port, proc, f"mosquitto ({binary})")


def start_amqtt(workdir: Path, log: IO[str], why: str = "") -> RunningBroker:
    target = ensure_amqtt(log)
    port = free_port()
    logfile = workdir / "amqtt.log"
    env = {**os.environ, "PYTHONPATH": str(target)}
    with logfile.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", AMQTT_RUNNER, str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    _wait_listening(proc, port, logfile, "amqtt")
    return RunningBroker("amqtt", "127.0.0.1", port, proc, f"embedded amqtt broker{why}")


AMQTT_LIMITS = (
    "amqtt speaks MQTT 3.1.1 only: the CSMS's bridge runs in 3.1.1 mode (command replies go "
    "to the payload's reply_to); mosquitto (apt-get install mosquitto) is the tested broker"
)


def install_mosquitto(log: IO[str]) -> str | None:
    """As root with apt-get (a fresh Debian/Ubuntu box), install mosquitto; its path or None."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    print("demo: mosquitto is not installed; installing it (apt-get install mosquitto)", file=log)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "mosquitto"]):
        if subprocess.run(argv, capture_output=True, env=env, timeout=600).returncode != 0:
            print(f"demo: {' '.join(argv)} failed", file=log)
            return None
    return mosquitto_binary()


def start_broker(workdir: Path, kind: BrokerKind, log: IO[str]) -> RunningBroker:
    """Start the broker ``kind``.

    "auto": mosquitto if installed; else, as root on Debian/Ubuntu, install it as the
    test command does; else the embedded amqtt broker, with its limits said plainly.
    """
    if kind in ("auto", "mosquitto"):
        binary = mosquitto_binary() or install_mosquitto(log)
        if binary:
            return start_mosquitto(workdir, binary)
        if kind == "mosquitto":
            raise BrokerError("mosquitto is not installed (apt-get install mosquitto)")
    why = " (mosquitto is not installed)" if kind == "auto" else " (--broker amqtt)"
    broker = start_amqtt(workdir, log, why)
    print(f"demo: note: {AMQTT_LIMITS}", file=log, flush=True)
    return broker
