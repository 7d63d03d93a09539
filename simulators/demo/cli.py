"""``evsim demo``: the reference garage for a simulated day, then a report.

    evsim demo [--hours H] [--speed S] [--out DIR] [--broker auto|mosquitto|amqtt]

Starts an MQTT broker, ``csms serve`` (SQLite in DIR), ``edge run`` with the
reference garage config and ``evsim run`` with the reference-garage scenario,
all on one simulated clock; shows progress; prints the report (docs/operations.md).
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import signal
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from simulators.demo.run import DemoOptions, run_demo

SITE_ZONE = ZoneInfo("America/Los_Angeles")
# A summer weekday (the scenario's own Monday), noon to noon: public drivers are
# plugged in, the fleet returns in the afternoon, charges through the staged
# windows (21:30 .. 03:30) and leaves in the morning.
DEFAULT_START_LOCAL = datetime(2026, 7, 6, 12, 0, tzinfo=SITE_ZONE)
DEFAULT_DAY_REAL_S = 240.0  # one simulated day in about four minutes


def _start(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=SITE_ZONE)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evsim demo",
        description="Run the reference garage (CSMS, edge controller, simulators) for a "
        "simulated day and report the bill with and without control.",
    )
    p.add_argument("--hours", type=float, default=24.0, help="simulated hours (default 24)")
    p.add_argument(
        "--speed",
        type=float,
        default=None,
        help=f"simulated seconds per real second (default: a day in {DEFAULT_DAY_REAL_S:g} s)",
    )
    p.add_argument("--out", type=Path, default=None, help="output folder (default demo-out/<time>)")
    p.add_argument(
        "--start",
        type=_start,
        default=DEFAULT_START_LOCAL,
        help="simulated start, ISO 8601; site local time when no offset (default "
        f"{DEFAULT_START_LOCAL:%Y-%m-%dT%H:%M}, a summer weekday)",
    )
    p.add_argument("--broker", choices=("auto", "mosquitto", "amqtt"), default="auto")
    p.add_argument(
        "--lead",
        type=float,
        default=8.0,
        help="real seconds for the processes to start before simulated time reaches --start",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    if args.hours <= 0:
        print("evsim demo: --hours must be positive", file=sys.stderr)
        return 2
    speed = args.speed or 86400.0 / DEFAULT_DAY_REAL_S
    if speed <= 0:
        print("evsim demo: --speed must be positive", file=sys.stderr)
        return 2
    out = args.out or Path("demo-out") / datetime.now().strftime("%Y%m%d-%H%M%S")
    options = DemoOptions(
        start=args.start,
        duration=timedelta(hours=args.hours),
        speed=speed,
        out=out.resolve(),
        broker=args.broker,
        lead_s=args.lead,
        zone=SITE_ZONE,
    )
    # `kill -USR1 <pid>` prints every thread's stack: for "it hangs" reports
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    return asyncio.run(run_demo(options))


__all__ = ["main"]
