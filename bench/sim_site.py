"""Site simulator benchmark: ``./dev bench sim_site [--runs N]``.

Prints medians of ``--runs`` runs: loading and validating each shipped scenario, and
playing it in local mode (``evsim run --speed max``: stations offer full power, the runner
moves a ManualClock itself), as real seconds per simulated day and the resulting
speed-up over real time. The speed-up bounds how fast ``--speed N`` can run a site
before the runner falls behind the clock (it then integrates over longer ticks).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evcommon.clock import ManualClock
from simulators.scenario.loader import load_scenario
from simulators.scenario.runner import ScenarioRunner
from simulators.scenario.stations import LocalStations


def _median_s(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _play(name: str) -> None:
    plan = load_scenario(name)
    clock = ManualClock(plan.start)
    asyncio.run(ScenarioRunner(plan, clock, LocalStations(), free_run=True).run())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    for name in ("reference-garage", "trondheim"):
        plan = load_scenario(name)
        days = plan.scenario.scenario.duration_h / 24
        tick_s = plan.scenario.meters.publish_interval_s
        load_s = _median_s(lambda n=name: load_scenario(n), args.runs)
        play_s = _median_s(lambda n=name: _play(n), args.runs)
        per_day = (play_s - load_s) / days
        print(
            f"{name}: {len(plan.ports)} ports, {len(plan.sessions)} sessions, {days:g} day(s), "
            f"tick {tick_s:g} s"
        )
        print(f"  load+validate      {load_s * 1000:8.1f} ms (median of {args.runs})")
        print(
            f"  local run per day  {per_day * 1000:8.1f} ms  -> {86400 / per_day:,.0f}x real time"
        )


if __name__ == "__main__":
    main()
