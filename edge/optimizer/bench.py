"""``edge bench``: replay a scenario through each strategy and compare bills; MILP speed.

The replay runs the planners' production code in simulated time without the
network (edge/optimizer/replay.py); ``--compare-real`` checks it against the real
components on one window (edge/optimizer/compare_real.py); see docs/optimizer.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from edge.optimizer.config import OptimizerSection
from edge.optimizer.registry import PLANNERS
from edge.optimizer.replay import ReplayResult, replay
from edge.optimizer.scenarios import Scenario, garage, trondheim
from edge.planning import PlanRequest, VehicleRequest
from edge.tariff.bill import compute_bills
from edge.tariff.loader import load_tariff
from edge.tariff.model import Tariff

STRATEGIES = ("uncontrolled", "staged", "edf", "llf", "milp")


def _pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def _times(label: str, values: Sequence[float]) -> str:
    if not values:
        return f"{label} -"
    return (
        f"{label} median {statistics.median(values) * 1000:.1f} ms, "
        f"p95 {_pct(values, 95) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"
    )


def report(sc: Scenario, tariff: Tariff, res: ReplayResult) -> str:
    samples = [(sc.start + timedelta(minutes=15 * k), p) for k, p in enumerate(res.site_kw)]
    bills = compute_bills(samples, tariff, interval_s=900)
    lines = [f"== {res.strategy} ({res.wall_s:.1f} s wall, plans: {res.statuses})"]
    for bill in bills:
        parts = ", ".join(
            f"{k} {bill.subtotal(k):.2f}"
            for k in ("energy", "demand", "pdp_energy", "pdp_credit")
            if bill.subtotal(k)
        )
        lines.append(f"  bill {bill.start}..{bill.end}: {bill.total:.2f} {bill.currency} ({parts})")
        peaks = ", ".join(f"{k} {v:.1f}" for k, v in bill.peaks_kw.items())
        lines.append(f"    peak kW by demand period: {peaks}")
    req, got = sum(res.requested_kwh.values()), sum(res.delivered_kwh.values())
    short = res.short()
    worst = max(short.values(), default=0.0)
    lines.append(
        f"  energy delivered {got:.1f} of {req:.1f} kWh requested ({got / max(req, 1e-9):.2%})"
    )
    lines.append(
        f"  sessions short: {len(short)} of {len(res.requested_kwh)}, "
        f"{sum(short.values()):.1f} kWh in all, worst {worst:.2f} kWh"
    )
    lines.append("  " + _times("model build:", res.build_s))
    lines.append("  " + _times("solve:", res.solve_s))
    return "\n".join(lines)


def plot_peak_day(sc: Scenario, results: list[ReplayResult], path: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref = next((r for r in results if r.strategy == "uncontrolled"), results[0])
    day = int(np.argmax(ref.site_kw)) // 96
    fig, ax = plt.subplots(figsize=(10, 4.5))
    hours = np.arange(96) / 4
    styles = ["-", "--", "-.", ":"]
    for i, res in enumerate(results):  # fading widths and dashes keep overlapping lines visible
        ax.plot(
            hours,
            res.site_kw[day * 96 : day * 96 + 96],
            label=res.strategy,
            lw=max(3.2 - 0.5 * i, 1.0),
            ls=styles[i % len(styles)],
        )
    date = (sc.start + timedelta(days=day)).date()
    ax.set(
        xlabel=f"hours from the start of day {day + 1} ({date})",
        ylabel="site load, kW",
        title=f"{sc.name}: site load by strategy on the peak day",
    )
    ax.axhline(sc.import_limit_kw, color="grey", ls=":", label="import limit")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"plot of the peak day ({date}) written to {path}"


def speed_request(n: int, seed: int, tariff: Tariff) -> PlanRequest:
    """n connected vehicles over 96 intervals from 07:00 local on a summer weekday; the
    import limit (1.6 kW per vehicle over a base load of 0.1 kW per vehicle) binds."""
    rng = random.Random(seed)
    now = datetime(2017, 7, 12, 14, 0, tzinfo=UTC)
    vehicles = []
    for i in range(n):
        stay_h = rng.randint(16, 96) / 4
        max_kw = rng.choice([3.3, 6.6, 7.2, 11.0])
        # feasible on its own: at most 70 % of what the stay allows, after the safety factor
        kwh = min(rng.uniform(2, 30), 0.7 * max_kw * stay_h / 1.2)
        vehicles.append(
            VehicleRequest(
                key=f"ev{i}",
                group="public",
                arrival=now - timedelta(minutes=30),
                departure=now + timedelta(hours=stay_h),
                energy_needed_kwh=kwh,
                max_power_kw=max_kw,
                battery_kwh=rng.choice([40.0, 60.0, 80.0]),
            )
        )
    return PlanRequest(
        now=now,
        timezone="America/Los_Angeles",
        vehicles=vehicles,
        import_limit_kw=1.6 * n,
        base_load_forecast_kw=[0.1 * n],
        tariff=tariff,
        horizon_intervals=96,
        month_peak_kw={"max": 0.5 * n},
    )


def speed(sizes: Sequence[int], runs: int, cfg: OptimizerSection, tariff: Tariff) -> str:
    lines = [
        f"MILP speed (highspy API, warm start {cfg.warm_start}, gap target {cfg.mip_gap:.1%}):"
    ]
    planner = PLANNERS["milp"](cfg)
    for n in sizes:
        total: list[float] = []
        build: list[float] = []
        solve: list[float] = []
        gaps: list[float] = []
        status: dict[str, int] = {}
        for r in range(runs):
            req = speed_request(n, seed=r, tariff=tariff)
            t0 = time.perf_counter()
            plan = planner.plan(req)
            total.append(time.perf_counter() - t0)
            build.append(plan.build_time_s)
            solve.append(plan.solve_time_s)
            gaps.append(plan.mip_gap if plan.mip_gap is not None else float("inf"))
            status[plan.status] = status.get(plan.status, 0) + 1
        med = statistics.median
        lines.append(
            f"  {n} vehicles x 96 intervals, {runs} runs: total median {med(total):.2f} s"
            f" (p95 {_pct(total, 95):.2f}, max {max(total):.2f});"
            f" build median {med(build):.2f} s (max {max(build):.2f});"
            f" solve median {med(solve):.2f} s (max {max(solve):.2f});"
            f" worst proven gap {max(gaps):.4%}; {status}"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge bench", description=__doc__.splitlines()[0])
    p.add_argument("--scenario", choices=("garage", "trondheim"), default="garage")
    p.add_argument("--days", type=int, default=30, help="days to replay (small for CI)")
    p.add_argument("--month", default="2019-11", help="trondheim: month to replay")
    p.add_argument("--first-day", type=int, default=1, help="garage: first day of July 2017")
    p.add_argument("--strategies", default=",".join(STRATEGIES))
    p.add_argument("--tariff", default="pge-e19")
    p.add_argument("--time-limit-s", type=float, default=10.0)
    p.add_argument("--plot", type=Path, default=Path("bench-optimizer-peak-day.png"))
    p.add_argument(
        "--speed", action="store_true", help="also time the MILP at 200 and 500 vehicles"
    )
    p.add_argument("--speed-only", action="store_true")
    p.add_argument("--sizes", default="200,500")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--cold", action="store_true", help="speed: cold MILP, no warm start")
    p.add_argument(
        "--compare-real",
        action="store_true",
        help="only: replay vs the real components (CSMS, edge, simulators) on one window",
    )
    p.add_argument(
        "--start",
        type=_local_start,
        default=None,
        help="compare-real: start, ISO 8601, site time when no offset "
        "(default 2026-07-06T21:00, the demo's Monday: fleet windows open at 21:30, 23:30)",
    )
    p.add_argument("--hours", type=float, default=4.0, help="compare-real: simulated hours")
    p.add_argument(
        "--sim-speed",
        type=float,
        default=240.0,
        help="compare-real: simulated seconds per real second",
    )
    p.add_argument("--strategy", default="staged", help="compare-real: the edge's planner")
    p.add_argument("--out", type=Path, default=Path("bench-compare-real"))
    p.add_argument(
        "--edge-env",
        action="append",
        default=[],
        metavar="EDGE_SECTION__KEY=VALUE",
        help="compare-real: a config override for the real edge (repeatable)",
    )
    return p


def _local_start(text: str) -> datetime:
    from zoneinfo import ZoneInfo

    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo("America/Los_Angeles"))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.compare_real:
        from edge.optimizer.compare_real import main_compare

        start = args.start or _local_start("2026-07-06T21:00")
        bad = [kv for kv in args.edge_env if "=" not in kv or not kv.startswith("EDGE_")]
        if bad:
            build_parser().error(f"--edge-env wants EDGE_SECTION__KEY=VALUE, got {bad[0]!r}")
        edge_env = dict(kv.split("=", 1) for kv in args.edge_env)
        return main_compare(start, args.hours, args.sim_speed, args.out, args.strategy, edge_env)
    tariff = load_tariff(args.tariff)
    cfg = OptimizerSection(
        strategy="milp", time_limit_s=args.time_limit_s, warm_start=not args.cold
    )
    if not args.speed_only:
        if args.scenario == "garage":
            sc = garage(args.days, first_day=args.first_day)
        else:
            sc = trondheim(args.days, args.month)
        if tariff.timezone != sc.timezone:
            print(f"note: tariff {tariff.name} applied in {sc.timezone} local time for comparison")
            tariff = tariff.model_copy(update={"timezone": sc.timezone})
        print(
            f"Scenario {sc.name}: {sc.days} days from {sc.start:%Y-%m-%d %H:%M} UTC, "
            f"{len(sc.sessions)} sessions, import limit {sc.import_limit_kw:.0f} kW; replayed in "
            "simulated time through the planners' code without the network (no MQTT/OCPP)"
        )
        results = []
        for name in args.strategies.split(","):
            planner = PLANNERS[name](cfg)
            res = replay(sc, planner, tariff)
            results.append(res)
            print(report(sc, tariff, res), flush=True)
        print(plot_peak_day(sc, results, args.plot))
    if args.speed or args.speed_only:
        sizes = [int(s) for s in args.sizes.split(",")]
        print(speed(sizes, args.runs, cfg, load_tariff(args.tariff)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
