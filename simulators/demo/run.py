"""The demo's orchestration: broker, CSMS, edge, simulators on one SimClock; progress; report."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import re
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from evcommon.clock import SimClock
from simulators.demo.broker import BrokerError, RunningBroker, free_port, start_broker
from simulators.demo.children import Child, Children
from simulators.demo.children import stop as stop_child
from simulators.demo.progress import ProgressPrinter, SiteView, WatcherThread

SITE_ID = "reference-garage"
PREFIX = "evsite/v1"


@dataclass
class DemoOptions:
    start: datetime
    duration: timedelta
    speed: float
    out: Path
    broker: str = "auto"
    lead_s: float = 8.0
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("America/Los_Angeles"))
    scenario: str = "reference-garage"


def package_file(module: str, *parts: str) -> Path:
    """A file beside ``module`` (a module, not a package: packages may be namespaces)."""
    mod = importlib.import_module(module)
    if not mod.__file__:
        raise RuntimeError(f"cannot locate module {module}")
    return Path(mod.__file__).resolve().parent.joinpath(*parts)


def scenario_path(name: str) -> Path:
    return package_file("simulators.cli", "scenarios", f"{name}.toml")


def scenario_for(options: DemoOptions) -> Path:
    """The shipped scenario with its start moved to the demo's (sessions are generated for it).

    ``evsim run --start`` would shift the scenario's sessions with it (a 15:30 fleet
    arrival would move to 03:30 for a noon start); changing the scenario's own start
    instead generates the sessions of the chosen day at their usual local times.
    """
    text = scenario_path(options.scenario).read_text()
    local = options.start.astimezone(options.zone).replace(tzinfo=None)
    new_text, count = re.subn(
        r"^start\s*=.*$", f"start = {local:%Y-%m-%dT%H:%M:%S}", text, count=1, flags=re.M
    )
    if count != 1:
        raise RuntimeError(f"{scenario_path(options.scenario)}: no 'start =' line to move")
    path = options.out / f"{options.scenario}.toml"
    path.write_text(new_text)
    return path


def site_config_path() -> Path:
    return package_file("edge.config", "sites", f"{SITE_ID}.toml")


def command(name: str, module: str) -> list[str]:
    """The console script next to this Python, else ``python -c`` on its main()."""
    script = Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", f"import sys; from {module} import main; sys.exit(main())"]


def wait_port(port: int, child: Child, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if not child.running():
            break
        time.sleep(0.1)
    raise RuntimeError(f"{child.name} did not open port {port}:\n{child.log_tail()}")


class Demo:
    def __init__(self, options: DemoOptions, out: IO[str]):
        self.o = options
        self.out = out
        self.o.out.mkdir(parents=True, exist_ok=True)
        self.broker: RunningBroker | None = None
        self.children = Children(self.o.out, env=dict(os.environ))
        self.clock = SimClock(self.o.start, self.o.speed, origin=time.time() + self.o.lead_s)
        self.end = self.clock.start + self.o.duration
        self.record_path = self.o.out / "run.json"
        self.csms_port = free_port()

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def start_all(self) -> None:
        self.broker = b = start_broker(self.o.out, self.o.broker, self.out)  # type: ignore[arg-type]
        (self.o.out / "broker.json").write_text(
            json.dumps({"kind": b.kind, "pid": b.process.pid, "port": b.port}) + "\n"
        )
        self.say(f"demo: MQTT broker: {b.description} on {b.host}:{b.port}")
        csms = self._start_csms(b)
        self._start_edge(b)
        wait_port(self.csms_port, csms)
        self._start_evsim(b)

    def _env(self) -> dict[str, str]:
        return {"EVSITE_CLOCK": self.clock.spec(), "PYTHONUNBUFFERED": "1"}

    def _start_csms(self, b: RunningBroker) -> Child:
        argv = [*command("csms", "csms.cli"), "serve", "--host", "127.0.0.1"]
        argv += ["--port", str(self.csms_port), "--db", f"sqlite:///{self.o.out / 'csms.db'}"]
        env = {
            **self._env(),
            "CSMS_MQTT__ENABLED": "true",
            "CSMS_MQTT__HOST": b.host,
            "CSMS_MQTT__PORT": str(b.port),
            "CSMS_SERVER__METRICS_PORT": "0",
            "CSMS_SECURITY__ALLOW_UNKNOWN_STATIONS": "true",
            "CSMS_SECURITY__ACCEPT_ALL_ID_TAGS": "true",
            "CSMS_LOGGING__FORMAT": "json",
        }
        if b.kind == "amqtt":  # MQTT 3.1.1 only: replies go to the commands' reply_to
            env["CSMS_MQTT__PROTOCOL"] = "3.1.1"
        csms = self.children.start("csms", [*argv, "--clock", self.clock.spec()], env)
        self.say(f"demo: csms serve on ws://127.0.0.1:{self.csms_port}/ocpp (log {csms.logfile})")
        return csms

    def _start_edge(self, b: RunningBroker) -> Child:
        argv = [*command("edge", "edge.cli"), "run", "--config", str(site_config_path())]
        env = {
            **self._env(),
            "EDGE_MQTT__HOST": b.host,
            "EDGE_MQTT__PORT": str(b.port),
            "EDGE_METRICS__PORT": "0",
            "EDGE_LOGGING__FORMAT": "json",
        }
        edge = self.children.start("edge", [*argv, "--clock", self.clock.spec()], env)
        self.say(f"demo: edge run --config {site_config_path().name} (log {edge.logfile})")
        return edge

    def _start_evsim(self, b: RunningBroker) -> Child:
        argv = [*command("evsim", "simulators.cli"), "run", str(scenario_for(self.o))]
        argv += ["--csms-url", f"ws://127.0.0.1:{self.csms_port}/ocpp"]
        argv += ["--mqtt", f"{b.host}:{b.port}", "--clock", self.clock.spec()]
        argv += ["--duration", f"{self.o.duration.total_seconds() / 3600:g}"]
        sim = self.children.start("evsim", [*argv, "--out", str(self.record_path)], self._env())
        self.say(f"demo: evsim run {self.o.scenario} (log {sim.logfile})")
        return sim

    async def follow(self, stop: asyncio.Event) -> bool:
        """Show progress until the simulated end; False when stopped or a child failed."""
        assert self.broker is not None
        view = SiteView()
        printer = ProgressPrinter(self.clock, self.clock.start, self.end, self.o.zone, self.out)
        watcher = WatcherThread(self.broker.host, self.broker.port, SITE_ID, PREFIX, view)
        watcher.start()
        try:
            while self.clock.now() < self.end:
                if stop.is_set():
                    printer.finish()
                    return False
                failed = self.children.failed()
                if failed is not None:
                    printer.finish()
                    self.say(f"demo: {failed.name} exited with {failed.process.returncode}:")
                    self.say(failed.log_tail())
                    return False
                printer.update(view)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
            printer.update(view)
            printer.finish()
            return True
        finally:
            await asyncio.to_thread(watcher.stop)

    async def wait_simulator(self, stop: asyncio.Event, timeout_s: float = 30.0) -> bool:
        """Let evsim finish and write its record (it stops at --duration by itself).

        If it is still running (late, or the user pressed Ctrl-C), SIGTERM it alone
        first and wait: it then ends its sessions, lets the stations deliver their
        queued StopTransactions to the still-running CSMS and writes its record,
        marked interrupted. Stopping everything at once would report those last
        messages as undelivered."""
        sim = next(c for c in self.children.started if c.name == "evsim")
        deadline = time.monotonic() + timeout_s
        while sim.running() and time.monotonic() < deadline and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
        if sim.running():
            self.say("demo: evsim still running at the end; stopping it (SIGTERM)")
            await asyncio.to_thread(stop_child, sim.process, 15.0)
        return sim.process.returncode in (0, None, -signal.SIGTERM)

    def stop_all(self) -> None:
        codes = self.children.stop_all()
        if self.children.killed:
            self.say(f"demo: {', '.join(self.children.killed)} did not stop in time: killed")
        if self.broker is not None:
            self.broker.stop()
        bad = {k: v for k, v in codes.items() if v not in (0, -signal.SIGTERM, None)}
        if bad:
            self.say(f"demo: exit codes {json.dumps(bad)} (logs in {self.o.out})")


async def run_demo(options: DemoOptions, out: IO[str] | None = None) -> int:
    # heavy imports (tariff, matplotlib) only now
    from simulators.demo.record import RecordError, make_report

    stream = out or sys.stdout
    demo = Demo(options, stream)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    hours = options.duration.total_seconds() / 3600
    demo.say(
        f"demo: reference garage, {hours:g} simulated h from "
        f"{options.start.astimezone(options.zone):%Y-%m-%d %H:%M %Z} at {options.speed:g}x "
        f"(about {options.duration.total_seconds() / options.speed:.0f} s); output in {options.out}"
    )
    try:
        try:
            demo.start_all()
        except (BrokerError, RuntimeError) as exc:
            demo.say(f"demo: could not start: {exc}")
            return 1
        finished = await demo.follow(stop)
        if not finished:
            demo.say("demo: stopped; no report" if stop.is_set() else "demo: failed; no report")
            return 130 if stop.is_set() else 1
        demo.say("demo: simulated day complete; stopping the simulators")
        await demo.wait_simulator(stop)
        if stop.is_set():
            demo.say("demo: stopped; no report")
            return 130
    finally:
        demo.stop_all()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    try:
        text = make_report(demo.record_path, site_config_path(), options.out)
    except RecordError as exc:
        demo.say(f"demo: no report: {exc}")
        return 1
    demo.say(text)
    return 0
