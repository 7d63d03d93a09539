"""Process 400 of the patent: where an arriving vehicle charges.

410 charging window (buffers; a flexible departure may move back)
415-425 load flow of the existing schedule over the window; drop under-voltage nodes
430-440 fast-charging need; keep nodes with a free fast charger when there is one
445 pick the remaining node with the highest voltage (its lowest over the window)
450 economic dispatch (any :class:`~edge.planning.Planner`) with the vehicle added
455-465 load flow again; an under-voltage at the chosen node drops it, back to 445
[0075] no node left: the exception paths, in order (:data:`EXCEPTION_PATHS`)
470 record the assignment and the final power schedule

Pure: no I/O, no clock (``now`` is passed in). The planner's result does not
depend on the node (it knows no network), so step 450 runs once per attempt
and every candidate node is checked in one batched load flow.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from edge.planning import Planner
from edge.siting.decision import SitingDecision, SitingError, SitingParams
from edge.siting.dispatch import Dispatch, run_dispatch
from edge.siting.edf import EdfPlanner
from edge.siting.exceptions import fast_to_slow, move_flexible
from edge.siting.flows import FlowModel
from edge.siting.network import Charger, SiteNetwork
from edge.siting.schedule import (
    Arrival,
    Entry,
    Schedule,
    hours,
    slot_ceil,
    slot_of,
    slot_start,
    td_minutes,
)


@dataclass
class Attempt:
    decision: SitingDecision
    schedule: Schedule  # the schedule to commit (exception moves applied, powers re-planned)
    dispatch: Dispatch


@dataclass
class Screen:
    """What 415-440 leave for 445: the window, free chargers and candidate nodes."""

    slots: range
    free: list[Charger]
    candidates: list[str]
    v_low: dict[str, float]  # lowest voltage per node over the window, before
    over_voltage: list[str]
    use_fast: bool
    notes: list[str]


class SitingEngine:
    def __init__(
        self,
        site: SiteNetwork,
        params: SitingParams | None = None,
        *,
        planner: Planner | None = None,
        schedule: Schedule | None = None,
    ):
        self.site = site
        self.params = params or SitingParams()
        self.planner: Planner = planner or EdfPlanner()
        self.schedule = schedule or Schedule(self.params.interval_s)
        self.flows = FlowModel(site, self.params.interval_s)
        self.battery_kw: dict[int, float] = {}
        self._trail: dict[str, str] = {}

    # -- public -------------------------------------------------------------
    def site_vehicle(self, arrival: Arrival, now: datetime) -> SitingDecision:
        attempt = self.decide(arrival, now)
        self.commit(attempt)
        return attempt.decision

    def site_batch(self, arrivals: list[Arrival], now: datetime) -> list[SitingDecision]:
        """Batch mode ([0058]): earliest departure first, each sees the ones before."""
        out = []
        for arrival in sorted(arrivals, key=lambda a: (a.departure, a.vehicle_id)):
            out.append(self.site_vehicle(arrival, now))
        return out

    def commit(self, attempt: Attempt) -> None:
        self.schedule = attempt.schedule
        self.battery_kw = attempt.dispatch.battery_kw

    def window(self, arrival: Arrival, now: datetime) -> tuple[int, int]:
        """Subprocess 410: the charging window in slots [start, end)."""
        p, iv = self.params, self.params.interval_s
        start_ts = max(arrival.arrival + td_minutes(p.arrival_buffer_min), now)
        start = slot_ceil(start_ts, iv)
        end = slot_of(arrival.departure - td_minutes(p.departure_buffer_min), iv)
        end = max(end, start + 1)
        if arrival.flexible_departure:
            slow_kw = self._slow_kw(arrival)
            need = arrival.energy_needed_kwh()
            extra_max = int(p.max_departure_extension_min * 60 // iv)
            while extra_max > 0 and slow_kw * hours(end - start, iv) < need:
                end += 1
                extra_max -= 1
        return start, end

    def decide(self, arrival: Arrival, now: datetime) -> Attempt:
        t_start = time.perf_counter()
        start, end = self.window(arrival, now)
        energy = arrival.energy_needed_kwh()
        needs_fast = energy > self._slow_kw(arrival) * hours(end - start, self.params.interval_s)
        now_slot = min(start, slot_of(now, self.params.interval_s))
        base = self.schedule.copy()
        base.drop_before(now_slot)
        base.entries.pop(arrival.vehicle_id, None)  # a repeated request replaces the old one
        self._trail = {}  # why nodes were dropped, over all attempts
        attempt = self._attempt(arrival, base, start, end, now_slot, needs_fast, "direct")
        if attempt is None:
            attempt = self._exceptions(arrival, base, start, end, now_slot, needs_fast)
        attempt.decision.elapsed_s = time.perf_counter() - t_start
        return attempt

    # -- steps --------------------------------------------------------------
    def _exceptions(
        self, arrival: Arrival, base: Schedule, start: int, end: int, now_slot: int, fast: bool
    ) -> Attempt:
        moved, sched = move_flexible(base, start, end, now_slot)
        if moved:
            got = self._attempt(arrival, sched, start, end, now_slot, fast, "move_flexible")
            if got is not None:
                got.decision.moved = moved
                return got
        if fast:
            moved, sched = fast_to_slow(base, self.site, start, end)
            if moved:
                got = self._attempt(arrival, sched, start, end, now_slot, fast, "fast_to_slow")
                if got is not None:
                    got.decision.moved = moved
                    return got
            got = self._attempt(arrival, base, start, end, now_slot, fast, "relax_fast")
            if got is not None:
                return got
        got = self._attempt(arrival, base, start, end, now_slot, fast, "least_violation")
        if got is None:
            raise SitingError(f"{arrival.vehicle_id}: every charger is taken during its window")
        return got

    def _attempt(
        self,
        arrival: Arrival,
        sched: Schedule,
        start: int,
        end: int,
        now_slot: int,
        needs_fast: bool,
        path: str,
    ) -> Attempt | None:
        p = self.params
        ctx = self._screen(sched, start, end, needs_fast, path)  # 415-440
        if ctx is None:
            return None
        max_kw = self._fast_kw(arrival) if ctx.use_fast else self._slow_kw(arrival)
        dispatch = run_dispatch(
            self.planner, self.site, sched, arrival, start, end, now_slot, max_kw, p
        )  # 450
        order = sorted(ctx.candidates, key=lambda n: -ctx.v_low[n])  # 445: highest first
        after = self.flows.candidate_min_voltages(
            dispatch.schedule, ctx.slots, order, dispatch.new_kw, dispatch.battery_kw
        )  # 455, all candidates in one batch
        chosen, iterations = None, 0
        if path == "least_violation":
            iterations = len(order)
            chosen = order[int(np.argmax(after))]
        else:
            for i, n in enumerate(order):  # 445-465
                iterations += 1
                if after[i] < p.v_min_pu:
                    self._trail[n] = f"under-voltage {after[i]:.4f} pu after dispatch"
                    continue
                chosen = n
                break
        if chosen is None:
            return None
        v_min = float(after[order.index(chosen)])
        return self._finish(arrival, ctx, dispatch, chosen, needs_fast, path, iterations, v_min)

    def _screen(
        self, sched: Schedule, start: int, end: int, needs_fast: bool, path: str
    ) -> Screen | None:
        """Subprocesses 415-440: free chargers, voltages before, fast-charging filter."""
        p = self.params
        slots = range(start, end)
        busy = sched.busy(start, end)
        free = [c for c in self.site.chargers if c.key not in busy]
        if not free:
            return None
        vm = self.flows.node_voltages(sched, slots, self.battery_kw)  # (T, nodes)
        nodes = self.flows.nodes
        v_low = dict(zip(nodes, vm.min(axis=0), strict=True))
        over = [n for n, v in zip(nodes, vm.max(axis=0), strict=True) if v > p.v_max_pu]
        notes: list[str] = []
        candidates = []
        for n in nodes:  # 420-425
            if not any(c.node == n for c in free):
                continue
            if v_low[n] < p.v_min_pu and path != "least_violation":
                self._trail[n] = f"under-voltage {v_low[n]:.4f} pu before dispatch"
            else:
                candidates.append(n)
        use_fast = needs_fast and path not in ("relax_fast", "least_violation")
        if use_fast:  # 430-440
            fast_nodes = [n for n in candidates if any(c.fast and c.node == n for c in free)]
            if fast_nodes:
                candidates = fast_nodes
            else:
                use_fast = False
                notes.append("no fast charger free: charging slow")
        if not use_fast:  # [0067] other criteria: a slow need takes a slow charger if any
            slow_nodes = [n for n in candidates if any(not c.fast and c.node == n for c in free)]
            candidates = slow_nodes or candidates
        if not candidates:
            return None
        return Screen(slots, free, candidates, v_low, over, use_fast, notes)

    def _finish(
        self,
        arrival: Arrival,
        ctx: Screen,
        dispatch: Dispatch,
        chosen: str,
        needs_fast: bool,
        path: str,
        iterations: int,
        v_min: float,
        method: str = "process400",
    ) -> Attempt:
        """Subprocess 470: the vehicle into the schedule, the decision record."""
        p, slots = self.params, ctx.slots
        charger = _pick_charger(ctx.free, chosen, ctx.use_fast)
        entry = Entry(
            vehicle_id=arrival.vehicle_id,
            charger=charger,
            start_slot=slots.start,
            end_slot=slots.stop,
            energy_kwh=arrival.energy_needed_kwh(),
            max_power_kw=min(arrival.max_power_kw, charger.max_power_kw),
            flexible=arrival.flexible_departure,
            needs_fast=needs_fast,
            power_kw={s: kw for s, kw in zip(slots, dispatch.new_kw, strict=True) if kw > 0},
        )
        final = dispatch.schedule
        final.entries[arrival.vehicle_id] = entry
        decision = SitingDecision(
            site_id=self.site.site_id,
            vehicle_id=arrival.vehicle_id,
            station_id=charger.station_id,
            connector_id=charger.connector_id,
            node=chosen,
            window_start=slot_start(slots.start, p.interval_s),
            window_end=slot_start(slots.stop, p.interval_s),
            method=method,
            path=path,
            needs_fast=needs_fast,
            fast_charger=charger.fast,
            iterations=iterations,
            min_voltage_pu=v_min,
            dropped=dict(self._trail),
            over_voltage_nodes=ctx.over_voltage,
            power_kw=list(dispatch.new_kw),
            shortfall_kwh=dispatch.shortfall_kwh,
            planner=dispatch.planner,
            notes=ctx.notes + dispatch.notes,
        )
        return Attempt(decision, final, dispatch)

    def _slow_kw(self, arrival: Arrival) -> float:
        return min(arrival.max_power_kw, self.site.slow_power_kw)

    def _fast_kw(self, arrival: Arrival) -> float:
        fast = [c.max_power_kw for c in self.site.chargers if c.fast]
        return min(arrival.max_power_kw, max(fast)) if fast else self._slow_kw(arrival)


def _pick_charger(free: list[Charger], node: str, fast: bool) -> Charger:
    """A free connector on the node: a fast one if fast charging is needed, else
    a slow one (keep fast chargers for those who need them); the strongest first."""
    here = [c for c in free if c.node == node]
    preferred = [c for c in here if c.fast == fast] or here
    return sorted(preferred, key=lambda c: (-c.max_power_kw, c.station_id, c.connector_id))[0]
