"""Edge control-tick benchmark: the pure rule pipeline (windows, shed, site limit, floor).

Measures ``edge.rules.decide`` on N connectors with a binding site limit (so the
floor and water-filling work), median of several runs, for the reference garage
size (50 controlled connectors) and larger sites. The network part of a tick
(MQTT, CSMS round trips) is not included: it is measured end to end in the tests.

    ./dev bench edge_rules [--sizes 50,500,2000] [--runs 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime
from datetime import time as dtime
from zoneinfo import ZoneInfo

from edge.rules import ConnectorView, GroupRules, RuleInputs, ShedParams, ShedState, decide

GROUPS = {
    "fleet-1": GroupRules("fleet-1", dtime(21, 30), dtime(8, 30), 1.65),
    "fleet-2": GroupRules("fleet-2", dtime(23, 30), dtime(8, 30), 1.65, shed=True),
    "fleet-3": GroupRules("fleet-3", dtime(1, 30), dtime(8, 30), 1.65, shed=True),
    "fleet-4": GroupRules("fleet-4", dtime(3, 30), dtime(8, 30), 1.65, shed=True),
    "public": GroupRules("public", safe_limit_kw=1.65),
}


def inputs(n: int, rng: random.Random) -> RuleInputs:
    names = list(GROUPS)
    conns = [
        ConnectorView(
            f"S{i}/1",
            names[i % len(names)],
            rng.choice([1.6, 6.6]),
            rng.random() < 0.8,
            rng.uniform(0, 6),
        )
        for i in range(n)
    ]
    plan = {c.key: c.max_power_kw for c in conns}
    return RuleInputs(
        now=datetime(2026, 7, 2, 11, 0, tzinfo=UTC),  # 04:00 PDT: all windows open
        zone=ZoneInfo("America/Los_Angeles"),
        connectors=conns,
        plan_kw=plan,
        groups=GROUPS,
        shed_state=ShedState(active=True, reading_kw=40.0),
        shed=ShedParams(),
        budget_kw=n * 1.2,  # binding: not everyone gets the floor
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="50,500,2000")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    rng = random.Random(1)
    print(f"{'connectors':>10} {'median ms':>10} {'p95 ms':>8}  (runs={args.runs})")
    for n in (int(s) for s in args.sizes.split(",")):
        inp = inputs(n, rng)
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            out = decide(inp)
            times.append((time.perf_counter() - t0) * 1000)
        limits = out.limits_kw().values()
        assert all(v == 0 or v >= 1.5 for v in limits) and sum(limits) <= n * 1.2 + 1e-6
        times.sort()
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        print(f"{n:>10} {statistics.median(times):>10.2f} {p95:>8.2f}")


if __name__ == "__main__":
    main()
