"""Load flows over a charging window: the schedule's loads on the network, per slot."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from edge.siting.network import SiteNetwork
from edge.siting.powerflow import BatchPowerFlow, FloatArray
from edge.siting.schedule import Schedule, slot_start


def profile_indices(site: SiteNetwork, interval_s: int, slots: range) -> list[int]:
    """Index into the site's daily profiles (interval of the local day) per slot."""
    tz = ZoneInfo(site.timezone)
    out = []
    for slot in slots:
        local: datetime = slot_start(slot, interval_s).astimezone(tz)
        out.append((local.hour * 3600 + local.minute * 60) // interval_s)
    return out


class FlowModel:
    def __init__(self, site: SiteNetwork, interval_s: int):
        self.site = site
        self.interval_s = interval_s
        self.pf = BatchPowerFlow(site)
        self.nodes = site.candidate_nodes
        self._cols = [self.pf.node_index[n] for n in self.nodes]

    def scales(self, slots: range) -> tuple[FloatArray, FloatArray]:
        idx = profile_indices(self.site, self.interval_s, slots)
        base = np.array([self.site.profile_value(self.site.base_profile, i) for i in idx])
        pv = np.array([self.site.profile_value(self.site.pv_profile, i) for i in idx])
        return base, pv

    def loads_mw(self, sched: Schedule, slots: range, battery_kw: dict[int, float]) -> FloatArray:
        """Scheduled charging (and battery) as constant-power loads, shape (T, nb)."""
        per_node = sched.node_power_kw(list(self.site.nodes), slots)
        arrays = {n: np.array(v) for n, v in per_node.items() if any(v)}
        if self.site.battery_node is not None and battery_kw:
            bat = np.array([battery_kw.get(s, 0.0) for s in slots])
            node = self.site.battery_node
            arrays[node] = arrays.get(node, np.zeros(len(slots))) + bat
        return self.pf.injections_mw(arrays, len(slots))

    def node_voltages(
        self, sched: Schedule, slots: range, battery_kw: dict[int, float]
    ) -> FloatArray:
        """Voltage (pu) at each candidate node per slot, shape (T, len(nodes))."""
        base, pv = self.scales(slots)
        vm = self.pf.solve(base, self.loads_mw(sched, slots, battery_kw), pv)
        return vm[:, self._cols]

    def candidate_min_voltages(
        self,
        sched: Schedule,
        slots: range,
        order: list[str],
        new_kw: list[float],
        battery_kw: dict[int, float],
    ) -> FloatArray:
        """Lowest voltage over the window at each node of ``order`` when the new
        vehicle (power ``new_kw`` per slot) charges there: one batch of C*T flows."""
        t = len(slots)
        c = len(order)
        base, pv = self.scales(slots)
        existing = self.loads_mw(sched, slots, battery_kw)  # (T, nb)
        loads = np.repeat(existing[None, :, :], c, axis=0)  # (C, T, nb)
        new_mw = np.asarray(new_kw, dtype=float) / 1000.0
        cols = [self.pf.node_index[n] for n in order]
        for i, col in enumerate(cols):
            loads[i, :, col] += new_mw
        vm = self.pf.solve(np.tile(base, c), loads.reshape(c * t, -1), np.tile(pv, c))
        vm = vm.reshape(c, t, -1)
        return np.array([vm[i, :, col].min() for i, col in enumerate(cols)])

    def node_base_kw(self, node: str) -> float:
        """The network's own load at ``node`` at profile 1.0 (kW)."""
        i = self.pf.node_index[node]
        s = self.pf.s_p[i] + self.pf.s_i[i] + self.pf.s_z[i]
        return float(s.real * self.pf.base_mva * 1000)

    def node_pv_kw(self, node: str) -> float:
        return float(self.pf.s_pv[self.pf.node_index[node]].real * self.pf.base_mva * 1000)
