"""Site import limit and the 1.5 kW floor, applied together as one allocation.

Input: each connector's wanted limit after the plan, windows and shed, and the
site budget (contract import limit minus margin minus measured non-EV load).

The rule (docs/edge.md, "The floor rule"):

1. Every wanted limit that is non-zero but below the floor is raised to the
   floor (a vehicle offered less stops charging anyway).
2. Vehicles are ranked neediest first: highest required average power
   (energy still needed / time to departure), then key for determinism. A vehicle
   charging now counts ``stickiness_kw`` more, so two vehicles with nearly equal
   needs do not swap every tick (each stop is an interruption; vehicles give up
   after a few, LBNL).
3. Walking down the ranking, a vehicle is admitted while the admitted ones can
   all get the floor within the budget; the rest get 0 (reason "floor").
4. The budget is shared among the admitted by water-filling: each gets
   ``min(wanted, level)`` with one common level chosen so the sum equals the
   budget. Since ``admitted * floor <= budget`` and every wanted limit is at
   least the floor, the level is at least the floor: no limit in (0, floor).

So the site limit holds, nobody gets an unusable offer, and when there is not
enough for everyone the vehicles that need energy most keep charging.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Want:
    key: str
    limit_kw: float  # wanted limit after plan, windows, shed
    need_kw: float = 0.0  # required average power to depart on time (priority)
    charging: bool = False  # had a non-zero limit last tick (keeps its place, see stickiness)


@dataclass(frozen=True)
class Allocation:
    key: str
    limit_kw: float
    rule: str | None  # "site_limit", "floor" or None when unchanged
    reason: str = ""


def _round_down(value: float) -> float:
    return int(value * 100 + 1e-9) / 100  # 0.01 kW steps, never above the input


def water_level(wants: Sequence[float], budget_kw: float) -> float:
    """The level L with sum(min(w, L)) == budget (inf when everything fits)."""
    if sum(wants) <= budget_kw:
        return float("inf")
    remaining = budget_kw
    ordered = sorted(wants)
    for i, w in enumerate(ordered):
        share = remaining / (len(ordered) - i)
        if w >= share:
            return share
        remaining -= w
    return float("inf")  # pragma: no cover - unreachable when sum > budget


def allocate(
    wants: Sequence[Want],
    budget_kw: float | None,
    floor_kw: float = 1.5,
    stickiness_kw: float = 0.0,
) -> list[Allocation]:
    """Apply the site budget (None: no limit known) and the floor; order of ``wants`` kept."""
    result: dict[str, Allocation] = {}
    raised = {w.key: max(w.limit_kw, floor_kw) for w in wants if w.limit_kw > 0}
    budget = float("inf") if budget_kw is None else max(0.0, budget_kw)
    ranked = sorted(
        (w for w in wants if w.limit_kw > 0),
        key=lambda w: (-(w.need_kw + (stickiness_kw if w.charging else 0.0)), w.key),
    )
    admitted = len(ranked)
    if floor_kw > 0 and budget != float("inf"):
        admitted = min(admitted, int(budget // floor_kw))
    active = ranked[:admitted]
    for rank, w in enumerate(ranked[admitted:], start=admitted + 1):
        result[w.key] = Allocation(
            w.key,
            0.0,
            "floor",
            f"floor: rank {rank} of {len(ranked)} by need ({w.need_kw:.2f} kW); budget"
            f" {budget:.2f} kW fits {admitted} at {floor_kw:g} kW",
        )
    level = water_level([raised[w.key] for w in active], budget)
    for w in active:
        limit = raised[w.key]
        if limit > level:
            limit = max(floor_kw, _round_down(level))
            result[w.key] = Allocation(
                w.key, limit, "site_limit", f"site limit: share {limit:.2f} of {budget:.2f} kW"
            )
        elif limit > w.limit_kw:
            result[w.key] = Allocation(
                w.key, limit, "floor", f"floor: raised {w.limit_kw:.2f} to {floor_kw:g} kW"
            )
        else:
            result[w.key] = Allocation(w.key, limit, None)
    return [result.get(w.key, Allocation(w.key, 0.0, None)) for w in wants]
