"""``evsim``: run simulated sites.

    evsim run SCENARIO [--speed N|max] [--csms-url ws://...] [--mqtt HOST:PORT]
                       [--clock SPEC] [--start ISO|now] [--duration HOURS] [--out FILE]
    evsim validate SCENARIO
    evsim stations SCENARIO
    evsim demo ...            (simulators.demo.cli)

SCENARIO is a TOML file or the name of a shipped scenario (reference-garage, trondheim).
Exit status: 0 ok, 2 bad input (the message names file, line and field), 1 other errors.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

from evcommon.clock import Clock, ManualClock, SimClock, parse_clock
from evcommon.errors import ConfigError
from evcommon.logs import configure_logging, get_logger
from simulators.scenario.loader import load_scenario
from simulators.scenario.plan import ScenarioPlan
from simulators.scenario.runner import ScenarioRunner
from simulators.scenario.stations import LocalStations, OcppStations, Stations
from simulators.site.publisher import MeterPublisher

log = get_logger("evsim")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evsim", description="EV site simulators")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="play a scenario")
    run.add_argument("scenario")
    run.add_argument("--speed", help="simulated seconds per real second, or 'max' (no CSMS)")
    run.add_argument("--csms-url", help="ws://host:port/ocpp: run OCPP stations on this CSMS")
    run.add_argument("--mqtt", metavar="HOST:PORT", help="publish the site meters here")
    run.add_argument("--clock", help="clock spec shared with CSMS/edge (default EVSITE_CLOCK)")
    run.add_argument("--start", help="move the scenario to start at ISO time or 'now'")
    run.add_argument(
        "--duration", "--hours", type=float, metavar="HOURS", help="override duration_h"
    )
    run.add_argument("--out", type=Path, help="run output file (JSON; default evsim-NAME.json)")
    run.add_argument(
        "--boot-grace",
        type=float,
        metavar="SECONDS",
        help="with --speed: real seconds before the clock reaches the start (default 5 "
        "with --csms-url, else 0)",
    )
    run.add_argument("--log-level", default="info")
    val = sub.add_parser("validate", help="check a scenario and its sessions, start nothing")
    val.add_argument("scenario")
    st = sub.add_parser(
        "stations", help="list a scenario's stations (id, ocpp, preset, group, node)"
    )
    st.add_argument("scenario")
    sub.add_parser("demo", help="run the whole system on the reference garage", add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["demo"]:
        from simulators.demo.cli import main as demo_main  # the ops engineer's module

        return demo_main(args_list[1:])
    args = _parser().parse_args(args_list)
    try:
        if args.command == "validate":
            return _validate(args.scenario)
        if args.command == "stations":
            return _stations(args.scenario)
        configure_logging(args.log_level)
        return asyncio.run(_run(args))
    except ConfigError as exc:
        print(f"evsim: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _validate(name: str) -> int:
    plan = load_scenario(name)
    counts: dict[str, int] = {}
    for port in plan.ports:
        counts[port.preset] = counts.get(port.preset, 0) + 1
    ports = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    print(f"{plan.path}: ok")
    print(f"  site {plan.site_id}: {len(plan.ports)} ports ({ports})")
    print(f"  {plan.start.isoformat()} .. {plan.end.isoformat()}: {len(plan.sessions)} sessions,")
    print(f"  {sum(s.energy_kwh for s in plan.sessions):.1f} kWh requested")
    return 0


def _stations(name: str) -> int:
    plan = load_scenario(name)
    print("station_id,connector_id,ocpp,preset,max_power_kw,group,node")
    for p in plan.ports:
        print(
            f"{p.station_id},{p.connector_id},{p.ocpp},{p.preset},{p.max_power_kw:g},"
            f"{p.group or ''},{p.node or ''}"
        )
    return 0


def _plan_and_clock(args: argparse.Namespace) -> tuple[ScenarioPlan, Clock, bool]:
    plan = load_scenario(args.scenario)
    if args.duration is not None:
        if args.duration <= 0:
            raise ConfigError("--duration must be positive")
        plan = plan.with_duration(args.duration)
    if args.start:
        start = datetime.now(UTC) if args.start == "now" else _iso(args.start, "--start")
        plan = plan.rebased(start.replace(microsecond=0))
    if args.speed == "max":
        if args.csms_url:
            raise ConfigError("--speed max runs without a CSMS (stations offer full power)")
        return plan, ManualClock(plan.start), True
    if args.speed is not None:
        try:
            speed = float(args.speed)
        except ValueError:
            raise ConfigError(f"--speed {args.speed!r}: a number or 'max'") from None
        if speed <= 0:
            raise ConfigError("--speed must be positive")
        # with OCPP stations, the clock reaches the scenario start only after a grace
        # period (real seconds), so connecting and booting costs no simulated time
        grace_s = args.boot_grace if args.boot_grace is not None else (5.0 if args.csms_url else 0)
        return plan, SimClock(plan.start, speed, origin=time.time() + grace_s), False
    return plan, parse_clock(args.clock), False


def _iso(value: str, what: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{what} {value!r}: not an ISO 8601 time") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _mqtt(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--mqtt {value!r}: expected HOST:PORT")
    return host, int(port)


async def _run(args: argparse.Namespace) -> int:
    plan, clock, free_run = _plan_and_clock(args)
    mqtt = _mqtt(args.mqtt) if args.mqtt else None
    spec = clock.spec() if isinstance(clock, SimClock) else ("manual" if free_run else "real")
    if isinstance(clock, SimClock):
        print(f"EVSITE_CLOCK={spec}", flush=True)
    out_path = args.out or Path(f"evsim-{plan.scenario.scenario.name}.json")
    if clock.now() > plan.end:  # checked again by the runner; fail before any station starts
        raise ConfigError(
            f"{plan.path}: the scenario ends {plan.end.isoformat()}, before the clock's now "
            f"{clock.now().isoformat()}; use --speed, --clock or --start"
        )
    signals = _StopSignals()
    ocpp: OcppStations | None = None
    with signals:
        async with AsyncExitStack() as stack:
            stations: Stations
            if args.csms_url:
                ocpp = OcppStations(plan, args.csms_url, clock)
                stations = await stack.enter_async_context(ocpp)
                await signals.race(ocpp.wait_accepted(30.0), "stations_not_all_accepted")
            else:
                stations = LocalStations()
            publisher = None
            if mqtt is not None:
                publisher = MeterPublisher(
                    mqtt[0],
                    mqtt[1],
                    plan.site_id,
                    prefix=plan.scenario.meters.prefix,
                    retain=plan.scenario.meters.retain,
                )
                await stack.enter_async_context(publisher)
            runner = ScenarioRunner(
                plan, clock, stations, publisher=publisher, clock_spec=spec, free_run=free_run
            )
            signals.on_signal = runner.request_stop
            if signals.received:  # a signal while the stations were connecting
                runner.request_stop(signals.received)
            log.info(
                "scenario_start",
                scenario=plan.scenario.scenario.name,
                sessions=len(plan.sessions),
                start=plan.start.isoformat(),
                end=plan.end.isoformat(),
            )
            output = await runner.run()
        # the stack closed: every station stopped and drained its transaction queue
        if ocpp is not None:
            output.tx_messages = ocpp.delivery()
        output.write(out_path)
    summary = output.summary()
    print(f"wrote {out_path}: {summary}", flush=True)
    return 130 if signals.received == "SIGINT" else 0


class _StopSignals:
    """SIGTERM/SIGINT ask the run to stop cleanly (sessions end, queues drain, the record
    is written); a second signal restores the default handlers, so a third one kills."""

    def __init__(self) -> None:
        self.received: str | None = None
        self.on_signal: Callable[[str], None] | None = None
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> _StopSignals:
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(sig, self._handle, sig)
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._loop is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._loop.remove_signal_handler(sig)

    def _handle(self, sig: signal.Signals) -> None:
        if self.received is not None:
            log.warning("second_signal_stopping_anyway", signal=sig.name)
            self.__exit__()
            return
        self.received = sig.name
        log.info("signal_received", signal=sig.name)
        self._event.set()
        if self.on_signal is not None:
            self.on_signal(sig.name)

    async def race(self, aw: Awaitable[None], timeout_event: str) -> None:
        """Await ``aw`` unless a signal comes first; a TimeoutError is logged."""
        task = asyncio.ensure_future(aw)
        stopper = asyncio.ensure_future(self._event.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            task.cancel()
        if task.done() and not task.cancelled():
            exc = task.exception()
            if isinstance(exc, TimeoutError):
                log.warning(timeout_event)
            elif exc is not None:
                raise exc


if __name__ == "__main__":
    raise SystemExit(main())
