"""``edge site``: siting from the command line.

edge site decide [--config site.toml | --model ieee13|garage] --energy-kwh E --hours H
edge site nodes [--config site.toml | --model ieee13|garage] [--load-scale X]
edge site voltages       the IEEE 13 equivalent against the published voltages
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from edge.siting.adapters import build_engine
from edge.siting.config import SitingSection
from edge.siting.ieee13 import build_ieee13, reference_bus_means
from edge.siting.multisite import MultiSiteEngine
from edge.siting.powerflow import BatchPowerFlow
from edge.siting.process400 import SitingEngine
from edge.siting.schedule import Arrival
from evcommon.errors import EvsiteError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge site", description="where an arriving EV charges")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("decide", "nodes"):
        s = sub.add_parser(name)
        s.add_argument("--config", help="site TOML (its [siting] section and stations)")
        s.add_argument("--model", choices=["ieee13", "garage"], default="ieee13")
        s.add_argument("--load-scale", type=float, default=None)
        s.add_argument("--strategy", choices=["process400", "spatial", "temporal"])
        s.add_argument("--planner", default=None, help="optimizer planner (default milp/edf)")
    d = sub.choices["decide"]
    d.add_argument("--vehicle", default="ev-1")
    d.add_argument("--energy-kwh", type=float, required=True)
    d.add_argument("--hours", type=float, required=True, help="arrival to departure")
    d.add_argument("--max-power-kw", type=float, default=350.0)
    d.add_argument("--flexible", action="store_true")
    d.add_argument("--json", action="store_true")
    sub.add_parser("voltages", help="IEEE 13 equivalent vs published per-bus means")
    return p


def _engine(args: argparse.Namespace) -> SitingEngine | MultiSiteEngine:
    overrides: dict[str, Any] = {}
    if args.strategy:
        overrides["strategy"] = args.strategy
    if args.load_scale is not None:
        overrides["load_scale"] = args.load_scale
    if args.planner:
        overrides["planner"] = args.planner
    if args.config:
        from edge.config import load_site_config

        cfg = load_site_config(args.config)
        siting = cfg.siting.model_copy(update=overrides)
        return build_engine(siting, cfg)
    siting = SitingSection(
        model=args.model,
        planner=args.planner or "edf",
        **{k: v for k, v in overrides.items() if k != "planner"},
    )
    return build_engine(siting, args.model)


def _decide(args: argparse.Namespace) -> int:
    engine = _engine(args)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    arrival = Arrival(
        args.vehicle,
        now,
        now + timedelta(hours=args.hours),
        energy_kwh=args.energy_kwh,
        max_power_kw=args.max_power_kw,
        flexible_departure=args.flexible,
    )
    d = engine.site_vehicle(arrival, now)
    if args.json:
        print(json.dumps(asdict(d), default=str, indent=2))
    else:
        print(
            f"{d.vehicle_id} -> site {d.site_id} station {d.station_id} connector "
            f"{d.connector_id} (node {d.node}), {d.window_start:%H:%M}-{d.window_end:%H:%M} UTC"
        )
        print(
            f"  {d.method}: {d.note()}; {d.iterations} iteration(s), "
            f"{d.elapsed_s * 1000:.0f} ms, planner {d.planner}"
        )
        for node, why in d.dropped.items():
            print(f"  dropped {node}: {why}")
    return 0


def _nodes(args: argparse.Namespace) -> int:
    engine = _engine(args)
    engines = engine.engines.values() if isinstance(engine, MultiSiteEngine) else [engine]
    for eng in engines:
        pf = eng.flows.pf
        vm = pf.solve(np.ones(1), np.zeros((1, pf.nb)))
        print(f"site {eng.site.site_id}")
        for node in eng.site.nodes:
            chargers = eng.site.chargers_at(node)
            kinds = ", ".join(
                f"{c.key} {c.max_power_kw:g} kW{' fast' if c.fast else ''}" for c in chargers[:4]
            )
            more = f" (+{len(chargers) - 4})" if len(chargers) > 4 else ""
            print(f"  {node:>10} {pf.node_voltages(vm, [node])[0, 0]:.4f} pu  {kinds}{more}")
    return 0


def voltage_table() -> list[tuple[str, float, float, float]]:
    """(bus, published per-bus mean, balanced equivalent, difference) for IEEE 13."""
    site = build_ieee13()
    pf = BatchPowerFlow(site)
    vm = pf.solve(np.ones(1), np.zeros((1, pf.nb)))[0]
    names = {str(n): i for i, n in site.net.bus.name.items()}
    rows = []
    for bus, ref in reference_bus_means().items():
        got = float(vm[pf.lookup[names[bus]]])
        rows.append((bus, ref, got, got - ref))
    return rows


def _voltages() -> int:
    rows = voltage_table()
    print("| bus | published mean (pu) | balanced equivalent (pu) | difference (pu) |")
    print("|---|---|---|---|")
    for bus, ref, got, diff in rows:
        print(f"| {bus} | {ref:.4f} | {got:.4f} | {diff:+.4f} |")
    worst = max(rows, key=lambda r: abs(r[3]))
    mean = sum(abs(r[3]) for r in rows) / len(rows)
    print(f"\nmean |difference| {mean:.4f} pu; largest {worst[3]:+.4f} pu at {worst[0]}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.cmd == "decide":
            return _decide(args)
        if args.cmd == "nodes":
            return _nodes(args)
        return _voltages()
    except EvsiteError as exc:
        print(f"edge site: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
