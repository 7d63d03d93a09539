"""CSMS load benchmark (loopback only, bounded in time).

Two parts, each against ``csms serve`` in a subprocess (temporary SQLite DB):

1. Throughput: ``--tp-stations`` stations send MeterValues back to back for
   ``--tp-duration`` s; the same client load is run against a bare ``websockets``
   server that only parses and answers the JSON (same process model, same JSON
   library). Alternated ``--runs`` times; prints the medians and the ratio.
2. Scale: ``--stations`` stations (half 1.6, half 2.0.1) connect, all boot at
   once, then each sends one MeterValues every ``--interval`` s for ``--duration``
   s; prints time to all Accepted, messages/s, p50/p99 round trip and server memory,
   first for the bare server (the floor this machine and client allow), then the CSMS.

    ./dev bench csms_load --stations 2000 --duration 30 --runs 5
    ./dev bench csms_load --runs 0 --stations 500 --duration 10     # scale only, quick

The client runs in this process and the servers in subprocesses, on loopback. The
CSMS runs with smart charging and MQTT off (the core is measured) and a fresh SQLite
database in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import websockets

ROOT = Path(__file__).resolve().parent.parent
BOOT = {
    "1.6": {"chargePointVendor": "Bench", "chargePointModel": "B-16"},
    "2.0.1": {"reason": "PowerUp", "chargingStation": {"model": "B-201", "vendorName": "Bench"}},
}


def meter_values(version: str, energy_wh: float) -> dict[str, object]:
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if version == "1.6":
        sampled = [
            {
                "value": f"{energy_wh:.0f}",
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            },
            {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
        ]
        return {"connectorId": 1, "meterValue": [{"timestamp": ts, "sampledValue": sampled}]}
    sampled201 = [
        {
            "value": energy_wh,
            "measurand": "Energy.Active.Import.Register",
            "unitOfMeasure": {"unit": "Wh"},
        },
        {"value": 7200, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
    ]
    return {"evseId": 1, "meterValue": [{"timestamp": ts, "sampledValue": sampled201}]}


# -- servers -------------------------------------------------------------------------
BARE_SERVER = """
import asyncio, sys, orjson
from websockets.asyncio.server import serve

async def handler(ws):
    async for raw in ws:
        msg = orjson.loads(raw)
        if msg[0] == 2:
            reply = {"currentTime": "2026-01-01T00:00:00Z", "interval": 300, "status": "Accepted"} \
                if msg[2] == "BootNotification" else {}
            await ws.send(orjson.dumps([3, msg[1], reply]).decode())

def pick(conn, offered):
    return offered[0] if offered else None

async def main():
    async with serve(handler, "127.0.0.1", int(sys.argv[1]), select_subprotocol=pick,
                     compression=None, max_size=65536):
        print("ready", flush=True)
        await asyncio.Future()

asyncio.run(main())
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, kind: str, tmp: Path, db_url: str | None = None):
        self.kind, self.tmp, self.port = kind, tmp, free_port()
        self.db_url = db_url
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        if self.kind == "bare":
            cmd = [sys.executable, "-c", BARE_SERVER, str(self.port)]
            env = dict(os.environ)
        else:
            db = self.db_url or f"sqlite:///{self.tmp / f'bench-{self.port}.db'}"
            cmd = [
                sys.executable,
                "-m",
                "csms.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--db",
                db,
            ]
            env = {
                **os.environ,
                "CSMS_SERVER__METRICS_PORT": "-1",
                "CSMS_LOGGING__LEVEL": "warning",
                "CSMS_SECURITY__ALLOW_UNKNOWN_STATIONS": "true",
                "CSMS_SMART_CHARGING__ENABLED": "false",
                "CSMS_MQTT__ENABLED": "false",
            }
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        import socket

        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"{self.kind} server did not start")

    def rss_mb(self) -> tuple[float, float]:
        assert self.proc is not None
        fields = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines()
        )
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# -- client --------------------------------------------------------------------------
class Station:
    def __init__(self, port: int, sid: str, version: str):
        self.url, self.sid, self.version = f"ws://127.0.0.1:{port}/ocpp/{sid}", sid, version
        self.ws: websockets.ClientConnection | None = None
        self.n = 0
        self.energy_wh = 0.0

    async def connect(self) -> None:
        self.ws = await websockets.connect(
            self.url,
            subprotocols=[f"ocpp{self.version}"],
            compression=None,  # type: ignore[list-item]
            open_timeout=60,
            ping_interval=None,
        )

    async def call(self, action: str, payload: dict[str, object]) -> list[object]:
        assert self.ws is not None
        self.n += 1
        mid = f"{self.n}"
        await self.ws.send(orjson.dumps([2, mid, action, payload]).decode())
        while True:
            msg = orjson.loads(await self.ws.recv())
            if msg[0] == 2:  # a CALL from the CSMS: answer and keep waiting
                await self.ws.send(orjson.dumps([3, msg[1], {"status": "Accepted"}]).decode())
            elif msg[1] == mid:
                if msg[0] != 3:
                    raise RuntimeError(f"{action} answered {msg}")
                return msg  # type: ignore[no-any-return]

    async def meter(self) -> None:
        self.energy_wh += 10
        await self.call("MeterValues", meter_values(self.version, self.energy_wh))


async def connect_all(stations: list[Station], concurrency: int = 200) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one(st: Station) -> None:
        async with sem:
            await st.connect()

    await asyncio.gather(*(one(s) for s in stations))


async def close_all(stations: list[Station]) -> None:
    await asyncio.gather(*(s.ws.close() for s in stations if s.ws), return_exceptions=True)


async def throughput(port: int, n: int, duration_s: float) -> float:
    stations = [Station(port, f"TP-{i}", "1.6" if i % 2 else "2.0.1") for i in range(n)]
    await connect_all(stations)
    await asyncio.gather(*(s.call("BootNotification", BOOT[s.version]) for s in stations))
    done = 0
    stop_at = time.perf_counter() + 0.5 + duration_s
    start_count_at = time.perf_counter() + 0.5  # warm-up

    async def loop(st: Station) -> None:
        nonlocal done
        while (now := time.perf_counter()) < stop_at:
            await st.meter()
            if now >= start_count_at:
                done += 1

    await asyncio.gather(*(loop(s) for s in stations))
    await close_all(stations)
    return done / duration_s


async def scale(server: Server, n: int, duration_s: float, interval_s: float) -> dict[str, float]:
    stations = [Station(server.port, f"CP-{i:05d}", "1.6" if i % 2 else "2.0.1") for i in range(n)]
    t0 = time.perf_counter()
    await connect_all(stations)
    t_conn = time.perf_counter() - t0
    await asyncio.gather(*(s.call("BootNotification", BOOT[s.version]) for s in stations))
    t_boot = time.perf_counter() - t0
    latencies: list[float] = []
    rng = random.Random(1)
    end = time.perf_counter() + duration_s

    async def loop(st: Station) -> None:
        await asyncio.sleep(rng.uniform(0, interval_s))  # stations are not synchronised
        nxt = time.perf_counter()
        while nxt < end:
            started = time.perf_counter()
            await st.meter()
            latencies.append(time.perf_counter() - started)
            nxt += interval_s
            await asyncio.sleep(max(0.0, nxt - time.perf_counter()))

    t1 = time.perf_counter()
    await asyncio.gather(*(loop(s) for s in stations))
    elapsed = time.perf_counter() - t1
    rss, hwm = server.rss_mb()
    await close_all(stations)
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "connect_s": t_conn,
        "all_accepted_s": t_boot,
        "messages": len(latencies),
        "msg_per_s": len(latencies) / elapsed,
        "p50_ms": q[49] * 1e3,
        "p99_ms": q[98] * 1e3,
        "max_ms": max(latencies) * 1e3,
        "rss_mb": rss,
        "peak_rss_mb": hwm,
    }


def report_throughput(args: argparse.Namespace, rates: dict[str, list[float]]) -> None:
    bare, csms = statistics.median(rates["bare"]), statistics.median(rates["csms"])
    # each run's pair is measured back to back: the median of the pair ratios is the
    # figure least disturbed by other load on the machine
    pair = statistics.median(c / b for b, c in zip(rates["bare"], rates["csms"], strict=True))
    print(f"\nthroughput ({args.tp_stations} stations back to back, median of {args.runs}):")
    print(f"  bare websockets+JSON {bare:8.0f} msg/s")
    print(f"  csms (validated, committed) {csms:8.0f} msg/s")
    print(f"  ratio csms/bare {csms / bare:.2f} (median of per-run ratios {pair:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--stations", type=int, default=2000)
    ap.add_argument("--duration", type=float, default=30.0, help="scale phase, seconds")
    ap.add_argument(
        "--interval", type=float, default=10.0, help="MeterValues period per station, s"
    )
    ap.add_argument("--tp-stations", type=int, default=200)
    ap.add_argument("--tp-duration", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--db", help="CSMS database URL (default: a fresh SQLite file)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rates: dict[str, list[float]] = {"bare": [], "csms": []}
        for run in range(args.runs):
            for kind in ("bare", "csms"):
                with Server(kind, Path(tmp), args.db) as srv:
                    rate = asyncio.run(throughput(srv.port, args.tp_stations, args.tp_duration))
                rates[kind].append(rate)
                print(f"run {run + 1} {kind:5s} {rate:8.0f} msg/s", flush=True)
        if args.runs > 0:
            report_throughput(args, rates)
        if args.skip_scale:
            return
        results = {}
        for kind in ("bare", "csms"):  # the bare server's figures are the machine's floor
            with Server(kind, Path(tmp), args.db) as srv:
                results[kind] = asyncio.run(scale(srv, args.stations, args.duration, args.interval))
        print(
            f"\nscale: {args.stations} stations (half 1.6, half 2.0.1), MeterValues every "
            f"{args.interval:g} s for {args.duration:g} s"
        )
        for kind, r in results.items():
            print(
                f"  {kind:5s} connected in {r['connect_s']:.2f} s, all Accepted after "
                f"{r['all_accepted_s']:.2f} s; {r['messages']:.0f} MeterValues, "
                f"{r['msg_per_s']:.0f} msg/s"
            )
            print(
                f"        round trip p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
                f"max {r['max_ms']:.1f} ms; server memory RSS {r['rss_mb']:.0f} MB "
                f"(peak {r['peak_rss_mb']:.0f} MB)"
            )


if __name__ == "__main__":
    main()
