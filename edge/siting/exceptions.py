"""Exception handling when no node is left ([0075]): schedule changes that free room.

Each returns the vehicles it moved and a modified copy of the schedule; process
400 then runs again on the copy and commits it only if a node is found.
The other [0075] measures live in process 400 itself: relaxing the fast-charging
need (path ``relax_fast``), the least under-voltage node (``least_violation``),
and rerouting to another site (:class:`edge.siting.multisite.MultiSiteEngine`).
"""

from __future__ import annotations

from dataclasses import replace

from edge.siting.network import SiteNetwork
from edge.siting.schedule import Schedule


def move_flexible(
    sched: Schedule, start: int, end: int, now_slot: int
) -> tuple[list[str], Schedule]:
    """Move vehicles with flexible times that have not started charging out of the
    window [start, end): their window (and power) now begins when it ends."""
    out = sched.copy()
    moved = []
    for key, e in out.entries.items():
        if not e.flexible or not e.overlaps(start, end) or e.start_slot < now_slot:
            continue
        if any(p > 0 for s, p in e.power_kw.items() if s < now_slot):
            continue
        out.entries[key] = e.shifted(end)
        moved.append(key)
    return moved, out


def fast_to_slow(
    sched: Schedule, site: SiteNetwork, start: int, end: int
) -> tuple[list[str], Schedule]:
    """Move vehicles that hold a fast charger during the window but do not need
    one to a slow charger that is free during their own window."""
    out = sched.copy()
    moved = []
    for key, e in list(out.entries.items()):
        if not e.charger.fast or e.needs_fast or not e.overlaps(start, end):
            continue
        busy = out.busy(e.start_slot, e.end_slot)
        slow = [c for c in site.chargers if not c.fast and c.key not in busy]
        if not slow:
            continue
        target = max(slow, key=lambda c: c.max_power_kw)
        out.entries[key] = replace(
            e, charger=target, max_power_kw=min(e.max_power_kw, target.max_power_kw)
        )
        moved.append(key)
    return moved, out
