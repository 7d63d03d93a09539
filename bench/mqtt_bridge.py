"""Benchmark of the CSMS MQTT bridge (issue 4).

  ./dev bench mqtt_bridge [--events 20000] [--commands 100] [--runs 3]

1. Event throughput: events put into the bridge's outbox until a subscriber has
   received them all, through a private mosquitto; in the same run a bare aiomqtt
   client publishing the same messages (QoS 1) is the reference, and the bridge rate
   is printed as a ratio of it.
2. Command round trip (MQTT 5 response topic + correlation data): a command for an
   unknown station (bridge only) and a set_limit on a simulated 1.6 station (bridge +
   OCPP + database + GetCompositeSchedule verification); p50 / p99 in ms.
Figures are medians over --runs runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from csms.bridge.client import NODELAY, PUBLISH_WINDOW, MqttBridge
from csms.bridge.commands import CommandExecutor
from csms.bridge.config import MqttSection
from csms.bridge.outbox import Outbox, Outgoing
from evcommon import contract
from evcommon.clock import SimClock
from evcommon.logs import configure_logging


def start_broker(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    conf = tmp / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 1000000\nmax_inflight_messages 0\nset_tcp_nodelay true\n"
    )
    binary = (
        "mosquitto"
        if subprocess.run(["which", "mosquitto"], capture_output=True).returncode == 0
        else "/usr/sbin/mosquitto"
    )
    proc = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
    for _ in range(500):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.02)
    raise SystemExit("mosquitto did not start")


class NoStations:
    def session(self, station_id: str) -> None:
        return None

    async def is_registered(self, station_id: str) -> bool:
        return False


async def receive(port: int, topic: str, n: int, ready: asyncio.Event) -> float:
    async with aiomqtt.Client(
        "127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5, socket_options=NODELAY
    ) as sub:
        await sub.subscribe(topic, qos=1)
        ready.set()
        count = 0
        async for _ in sub.messages:
            count += 1
            if count == n:
                return time.perf_counter()
    return time.perf_counter()


def payloads(n: int) -> list[bytes]:
    ev = contract.TransactionEvent(
        station_id="CP1", connector_id=1, transaction_id="1", event="updated", energy_kwh=1.5
    )
    return [contract.encode(ev)] * n


async def bare_rate(port: int, n: int) -> float:
    ready = asyncio.Event()
    rx = asyncio.create_task(receive(port, "bench/bare", n, ready))
    await ready.wait()
    async with aiomqtt.Client(
        "127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5, socket_options=NODELAY
    ) as pub:
        t0 = time.perf_counter()
        for p in payloads(n):
            await pub.publish("bench/bare", p, qos=1)
        t1 = await rx
    return n / (t1 - t0)


async def bare_pipelined_rate(port: int, n: int) -> float:
    """A plain client with the bridge's window of messages awaiting PUBACK."""
    ready = asyncio.Event()
    rx = asyncio.create_task(receive(port, "bench/bare2", n, ready))
    await ready.wait()
    async with aiomqtt.Client(
        "127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5, socket_options=NODELAY
    ) as pub:
        window = asyncio.Semaphore(PUBLISH_WINDOW)

        async def one(p: bytes) -> None:
            try:
                await pub.publish("bench/bare2", p, qos=1)
            finally:
                window.release()

        t0 = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for p in payloads(n):
                await window.acquire()
                tg.create_task(one(p))
        t1 = await rx
    return n / (t1 - t0)


async def bridge_rate(port: int, n: int) -> float:
    settings = MqttSection(
        enabled=True, port=port, client_id=f"bench-{time.time_ns()}", queue_size=n + 10
    )
    outbox = Outbox(settings.queue_size)
    bridge = MqttBridge(settings, CommandExecutor(NoStations(), {}, timeout_s=5), outbox)
    task = asyncio.create_task(bridge.run())
    await bridge.connected.wait()
    ready = asyncio.Event()
    rx = asyncio.create_task(receive(port, "bench/bridge", n, ready))
    await ready.wait()
    t0 = time.perf_counter()
    for p in payloads(n):
        outbox.put_event(Outgoing("bench/bridge", p))
    t1 = await rx
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return n / (t1 - t0)


async def command_latency(port: int, db: str, n: int) -> tuple[list[float], list[float]]:
    from simulators.chargepoint.config import StationConfig
    from simulators.chargepoint.station import SimStation
    from tests.plugins.infra import Broker
    from tests.plugins.smart import contract_probe, run_csms

    clock = SimClock(datetime(2026, 7, 1, tzinfo=UTC), speed=1)
    broker = Broker("127.0.0.1", port)
    unknown: list[float] = []
    full: list[float] = []
    cfg = StationConfig(station_id="CP1", preset="L2", meter_interval_s=3600)
    async with (
        contract_probe(broker) as probe,
        run_csms(broker, db, clock) as app,
        SimStation(cfg, app.url, clock, validate_outgoing=False) as st,
    ):
        await st.wait_accepted()
        for i in range(n):
            cmd = contract.SetLimit(correlation_id=f"u{i}", station_id="NOPE", limit_kw=3.3)
            t0 = time.perf_counter()
            await probe.command("NOPE", cmd)
            unknown.append((time.perf_counter() - t0) * 1000)
        for i in range(n):
            cmd = contract.SetLimit(
                correlation_id=f"f{i}",
                station_id="CP1",
                connector_id=1,
                limit_kw=3.0 + (i % 5) / 10,
                valid_to=clock.now() + timedelta(hours=1),
            )
            t0 = time.perf_counter()
            reply = await probe.command("CP1", cmd)
            full.append((time.perf_counter() - t0) * 1000)
            assert reply.ok, reply.error
    return unknown, full


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--commands", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    configure_logging("error", "console")
    tmp = Path(tempfile.mkdtemp())
    proc, port = start_broker(tmp)
    try:
        bare, piped, bridged, ratios, ratios2 = ([] for _ in range(5))
        unknown_p50, unknown_p99, full_p50, full_p99 = ([] for _ in range(4))
        for run in range(args.runs):
            b = await bare_rate(port, args.events)
            b2 = await bare_pipelined_rate(port, args.events)
            r = await bridge_rate(port, args.events)
            bare.append(b)
            piped.append(b2)
            bridged.append(r)
            ratios.append(r / b)
            ratios2.append(r / b2)
            db = f"sqlite:///{tmp}/bench-{run}.db"
            unknown, full = await command_latency(port, db, args.commands)
            unknown_p50.append(pct(unknown, 0.5))
            unknown_p99.append(pct(unknown, 0.99))
            full_p50.append(pct(full, 0.5))
            full_p99.append(pct(full, 0.99))
        med = statistics.median
        print(f"events: {args.events} per run, {args.runs} runs (medians)")
        print(f"  bare aiomqtt, one at a time  {med(bare):10.0f} msg/s")
        print(f"  bare aiomqtt, windowed       {med(piped):10.0f} msg/s")
        print(f"  bridge outbox -> broker      {med(bridged):10.0f} msg/s")
        print(f"  ratio bridge / one at a time {med(ratios):10.2f}")
        print(f"  ratio bridge / windowed      {med(ratios2):10.2f}")
        print(f"commands: {args.commands} per kind per run")
        print(f"  unknown_station reply   p50 {med(unknown_p50):6.2f} ms", end="")
        print(f"  p99 {med(unknown_p99):6.2f} ms")
        print(f"  set_limit on 1.6 sim    p50 {med(full_p50):6.2f} ms  p99 {med(full_p99):6.2f} ms")
    finally:
        proc.terminate()
        proc.wait(5)


if __name__ == "__main__":
    asyncio.run(main())
