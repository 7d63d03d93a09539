"""The seed-003 strategies inside a site, beside process 400.

``spatial``: the arriving vehicle goes to the node that minimises eq. 1 (node
load plus the vehicle minus the node's PV, plus the eq. 2 cost), among nodes
that keep every voltage within 10 % (eq. 3) with the vehicle charging there
(the dispatch's power profile, checked by load flow). Within one site every
charger is "in range" (distance 0); across sites use the pure
:func:`edge.siting.seed003.spatial_schedule` with real distances. When no node
qualifies, process 400 with its exception handling decides.

``temporal``: process 400 picks the node; the vehicle's charging slots are then
chosen by eq. 5-8 against that node's load and PV (flat price unless set),
and kept only if the node still satisfies eq. 7 and the under-voltage limit.
"""

from __future__ import annotations

import time
from datetime import datetime

from edge.siting.dispatch import run_dispatch
from edge.siting.process400 import Attempt, SitingEngine
from edge.siting.schedule import Arrival, Schedule, hours, slot_of
from edge.siting.seed003 import (
    FastRequest,
    FastStation,
    NormalRequest,
    spatial_schedule,
    temporal_schedule,
)

VOLTAGE_BAND = 0.1  # eq. 3 and 7: |dU| < 0.1 U0


class StrategyEngine(SitingEngine):
    def decide(self, arrival: Arrival, now: datetime) -> Attempt:
        t0 = time.perf_counter()
        if self.params.strategy == "spatial":
            got = self._spatial(arrival, now)
            if got is not None:
                got.decision.elapsed_s = time.perf_counter() - t0
                return got
        attempt = super().decide(arrival, now)
        if self.params.strategy == "temporal":
            self._retime(attempt)
        attempt.decision.elapsed_s = time.perf_counter() - t0
        return attempt

    def _node_load_kw(self, sched: Schedule, node: str, slots: range) -> list[float]:
        base, _ = self.flows.scales(slots)
        evs = sched.node_power_kw([node], slots)[node]
        own = self.flows.node_base_kw(node)
        return [own * b + e for b, e in zip(base, evs, strict=True)]

    def _node_pv_kw(self, node: str, slots: range) -> list[float]:
        _, pv = self.flows.scales(slots)
        rating = self.flows.node_pv_kw(node)
        return [rating * x for x in pv]

    def _spatial(self, arrival: Arrival, now: datetime) -> Attempt | None:
        p = self.params
        start, end = self.window(arrival, now)
        energy = arrival.energy_needed_kwh()
        needs_fast = energy > self._slow_kw(arrival) * hours(end - start, p.interval_s)
        now_slot = min(start, slot_of(now, p.interval_s))
        base = self.schedule.copy()
        base.drop_before(now_slot)
        self._trail = {}
        ctx = self._screen(base, start, end, needs_fast, "direct")
        if ctx is None:
            return None
        max_kw = self._fast_kw(arrival) if ctx.use_fast else self._slow_kw(arrival)
        dispatch = run_dispatch(
            self.planner, self.site, base, arrival, start, end, now_slot, max_kw, p
        )
        after = dict(
            zip(
                ctx.candidates,
                self.flows.candidate_min_voltages(
                    dispatch.schedule,
                    ctx.slots,
                    ctx.candidates,
                    dispatch.new_kw,
                    dispatch.battery_kw,
                ),
                strict=True,
            )
        )
        charging = [kw for kw in dispatch.new_kw if kw > 0]
        charger_kw = sum(charging) / len(charging) if charging else 0.0
        stations = []
        for n in ctx.candidates:
            load = self._node_load_kw(dispatch.schedule, n, ctx.slots)
            pv = self._node_pv_kw(n, ctx.slots)
            free_here = sum(1 for c in ctx.free if c.node == n)
            stations.append(
                FastStation(n, sum(load) / len(load), sum(pv) / len(pv), charger_kw, free_here)
            )
        soc = (arrival.soc_arrival_pct if arrival.soc_arrival_pct is not None else 30.0) / 100
        request = FastRequest(
            arrival.vehicle_id,
            soc=max(0.01, soc),
            battery_kwh=arrival.battery_kwh or max(energy, 1.0),
            distance_km={n: 0.0 for n in ctx.candidates},
        )

        def voltage_ok(added: dict[str, float]) -> bool:
            return all(abs(1.0 - after[n]) < VOLTAGE_BAND and after[n] >= p.v_min_pu for n in added)

        result = spatial_schedule(
            [request], stations, rtp=p.price_per_kwh, w1=p.w1, w2=p.w2, voltage_ok=voltage_ok
        )
        chosen = result.assignment.get(arrival.vehicle_id)
        if chosen is None:
            return None
        return self._finish(
            arrival, ctx, dispatch, chosen, needs_fast, "direct", 1, after[chosen], "spatial"
        )

    def _retime(self, attempt: Attempt) -> None:
        d = attempt.decision
        entry = attempt.schedule.entries[d.vehicle_id]
        slots = range(entry.start_slot, entry.end_slot)
        others = attempt.schedule.copy()
        del others.entries[d.vehicle_id]
        slot_h = hours(1, self.params.interval_s)
        load = self._node_load_kw(others, d.node, slots)
        pv = self._node_pv_kw(d.node, slots)
        req = NormalRequest(d.vehicle_id, 0, len(slots), 0.0, entry.energy_kwh, entry.max_power_kw)
        res = temporal_schedule(
            [req],
            load,
            pv,
            [self.params.price_per_kwh] * len(slots),
            w1=self.params.w1,
            w2=self.params.w2,
            slot_h=slot_h,
        )
        new_kw = res.power_kw[d.vehicle_id]
        v_min = float(
            self.flows.candidate_min_voltages(
                others, slots, [d.node], new_kw, attempt.dispatch.battery_kw
            )[0]
        )
        if abs(1.0 - v_min) >= VOLTAGE_BAND or v_min < self.params.v_min_pu:
            d.notes.append(f"temporal slots would reach {v_min:.4f} pu (eq. 7): kept dispatch")
            return
        entry.power_kw = {s: kw for s, kw in zip(slots, new_kw, strict=True) if kw > 0}
        d.power_kw = new_kw
        d.method = "temporal"
        d.min_voltage_pu = v_min
        d.shortfall_kwh = res.unmet_kwh.get(d.vehicle_id, 0.0)
