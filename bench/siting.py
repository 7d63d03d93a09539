"""Siting benchmark: ``./dev bench siting [--runs N] [--vehicles N] [--naive] [--milp]``.

One process-400 decision on the IEEE 13 depot: 13 candidate nodes, a 96-interval
(24 h) charging window, an existing schedule of ``--vehicles`` vehicles.
Prints medians of ``--runs`` runs: the whole decision, the batched load flow of
13 x 96 scenarios, one ``pandapower.runpp`` call, and the ratio of the naive
loop (one runpp per node and interval, before and after dispatch) to the
decision, all measured in this run. ``--naive`` also runs the naive loop once
for real (tens of seconds); ``--milp`` times a decision with the optimizer's MILP.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import pandapower as pp  # noqa: E402

from edge.siting.adapters import default_planner  # noqa: E402
from edge.siting.decision import SitingParams  # noqa: E402
from edge.siting.ieee13 import NODES, build_ieee13  # noqa: E402
from edge.siting.network import Charger  # noqa: E402
from edge.siting.process400 import SitingEngine  # noqa: E402
from edge.siting.schedule import Arrival  # noqa: E402

NOW = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


def _engine(vehicles: int, planner_name: str = "edf") -> SitingEngine:
    chargers = [Charger(f"{n}-s", c, n, 50.0) for n in NODES for c in range(1, 9)]
    chargers += [Charger(f"{n}-f", 1, n, 350.0, fast=True) for n in ("632", "671", "680")]
    site = build_ieee13(load_scale=1.5, chargers=chargers)
    params = SitingParams(departure_buffer_min=0.0)
    planner = default_planner(planner_name) if planner_name != "edf" else None
    eng = SitingEngine(site, params, planner=planner)
    for i in range(vehicles):  # fill the schedule: staggered 8-16 h stays
        start = NOW + timedelta(minutes=15 * (i % 24))
        a = Arrival(f"fleet-{i}", start, start + timedelta(hours=8 + i % 9), energy_kwh=60)
        eng.site_vehicle(a, NOW)
    return eng


def _median_s(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench siting")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--vehicles", type=int, default=20)
    ap.add_argument("--naive", action="store_true")
    ap.add_argument("--milp", action="store_true")
    args = ap.parse_args(argv)

    eng = _engine(args.vehicles)
    new = Arrival("bench", NOW, NOW + timedelta(hours=24), energy_kwh=400, max_power_kw=50)
    decide_s = _median_s(lambda: eng.decide(new, NOW), args.runs)
    d = eng.decide(new, NOW).decision
    window = int((d.window_end - d.window_start).total_seconds() // 900)
    n_nodes = len(eng.flows.nodes)

    pf = eng.flows.pf
    k = n_nodes * window
    batch_s = _median_s(lambda: pf.solve(np.ones(k), np.zeros((k, pf.nb))), args.runs)
    runpp_s = _median_s(lambda: pp.runpp(eng.site.net, numba=False), args.runs)
    naive_s = runpp_s * k * 2  # before (415) and after (455) dispatch

    print(
        f"siting decision, IEEE 13 depot: {n_nodes} candidate nodes x {window} intervals, "
        f"{len(eng.schedule.entries)} vehicles scheduled, median of {args.runs}"
    )
    print(f"  decision (process 400, edf dispatch) {decide_s * 1000:8.1f} ms  -> {d.node}")
    print(f"  batched load flow, {k} scenarios     {batch_s * 1000:8.1f} ms")
    print(f"  one pandapower.runpp                 {runpp_s * 1000:8.1f} ms")
    print(
        f"  naive loop estimate (2 x {k} runpp)  {naive_s:8.1f} s   = "
        f"{naive_s / decide_s:.0f} x the decision"
    )
    if args.naive:
        t = time.perf_counter()
        for _ in range(2):
            for _node in range(n_nodes):
                for _slot in range(window):
                    pp.runpp(eng.site.net, numba=False)
        real = time.perf_counter() - t
        print(
            f"  naive loop, measured                 {real:8.1f} s   = "
            f"{real / decide_s:.0f} x the decision"
        )
    if args.milp:
        milp = _engine(args.vehicles, "milp")
        milp_s = _median_s(lambda: milp.decide(new, NOW), max(1, args.runs // 2))
        got = milp.decide(new, NOW).decision
        print(f"  decision with planner {got.planner:<14} {milp_s * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
