"""Many load flows at once on one network: a batched Z-bus fixed-point solver.

Siting asks the same question hundreds of times (every interval of the
charging window, with the vehicle on every candidate node). Calling
``pandapower.runpp`` for each costs ~20 ms; here pandapower runs once to build
the bus admittance matrix (lines, transformers with their off-nominal ratios,
shunts), and every scenario is then solved together in numpy:

    V_n = Z_nn (conj(S_n / V_n)) + V_0,      Z_nn = inv(Y_nn),  V_0 = -Z_nn Y_ns V_s

iterated until the update is below ``tol``. Loads keep pandapower's ZIP model
(constant power, current, impedance shares). A scenario that does not converge
(voltage collapse) reports 0 pu, which every under-voltage check catches.
tests/siting/test_powerflow.py checks the result against ``pandapower.runpp``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandapower as pp
from pandapower.pypower.idx_bus import BUS_TYPE, REF

from edge.siting.network import SiteNetwork

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]
CHUNK_ROWS = 128  # scenarios per matrix product (see _times_z)


class BatchPowerFlow:
    def __init__(self, site: SiteNetwork, *, tol: float = 1e-9, max_iter: int = 200):
        self.site = site
        self.tol = tol
        self.max_iter = max_iter
        net = site.net
        pp.runpp(net, numba=False)
        internal = net._ppc["internal"]
        base_mva = float(internal["baseMVA"])
        y_bus = internal["Ybus"].toarray()
        nb = y_bus.shape[0]
        slack = np.flatnonzero(internal["bus"][:, BUS_TYPE] == REF)
        if len(slack) != 1:
            raise ValueError(f"need exactly one slack bus, found {len(slack)}")
        self.nb = nb
        self.slack = int(slack[0])
        self.others = np.array([i for i in range(nb) if i != self.slack])
        self.v_slack = complex(internal["V"][self.slack])
        y_nn = y_bus[np.ix_(self.others, self.others)]
        self.z_t = np.linalg.inv(y_nn).T
        self.v0 = -(np.linalg.inv(y_nn) @ y_bus[self.others, self.slack]) * self.v_slack
        self.lookup: npt.NDArray[np.int64] = np.asarray(net._pd2ppc_lookups["bus"])
        self.node_index = {name: int(self.lookup[bus]) for name, bus in site.nodes.items()}
        self.base_mva = base_mva
        self.s_p, self.s_i, self.s_z = self._zip_loads(net, base_mva)
        self.s_pv = self._sgens(net, base_mva)

    def _zip_loads(self, net: Any, base_mva: float) -> tuple[ComplexArray, ...]:
        parts = [np.zeros(self.nb, dtype=complex) for _ in range(3)]
        for _, row in net.load[net.load.in_service].iterrows():
            s = complex(row.p_mw, row.q_mvar) * row.scaling / base_mva
            zp = row.get("const_z_p_percent", 0.0) / 100
            ip = row.get("const_i_p_percent", 0.0) / 100
            zq = row.get("const_z_q_percent", zp * 100) / 100
            iq = row.get("const_i_q_percent", ip * 100) / 100
            z = complex(s.real * zp, s.imag * zq)
            i = complex(s.real * ip, s.imag * iq)
            b = int(self.lookup[int(row.bus)])
            parts[0][b] += s - z - i
            parts[1][b] += i
            parts[2][b] += z
        return parts[0], parts[1], parts[2]

    def _sgens(self, net: Any, base_mva: float) -> ComplexArray:
        out: ComplexArray = np.zeros(self.nb, dtype=complex)
        for _, row in net.sgen[net.sgen.in_service].iterrows():
            out[int(self.lookup[int(row.bus)])] += complex(row.p_mw, row.q_mvar) * row.scaling
        return np.asarray(out / base_mva, dtype=complex)

    def injections_mw(self, node_kw: dict[str, FloatArray], k: int) -> FloatArray:
        """Constant-power loads (MW, shape (k, nb)) from per-node kW arrays of length k."""
        out = np.zeros((k, self.nb))
        for node, kw in node_kw.items():
            out[:, self.node_index[node]] += np.asarray(kw, dtype=float) / 1000.0
        return out

    def solve(
        self,
        base_scale: FloatArray,
        extra_load_mw: FloatArray,
        pv_scale: FloatArray | None = None,
    ) -> FloatArray:
        """Voltage magnitudes (pu), shape (k, nb), for ``k`` scenarios.

        ``base_scale`` (k,) multiplies the network's own loads, ``pv_scale`` (k,) its
        PV; ``extra_load_mw`` (k, nb) adds unity power factor constant-power loads
        (negative: generation)."""
        base_scale = np.asarray(base_scale, dtype=float)
        k = base_scale.shape[0]
        if pv_scale is None:
            pv_scale = np.ones(k)
        o = self.others
        fixed = (
            extra_load_mw[:, o] / self.base_mva
            - pv_scale[:, None] * self.s_pv[o][None, :]
            + base_scale[:, None] * self.s_p[o][None, :]
        )
        s_i = base_scale[:, None] * self.s_i[o][None, :]
        s_z = base_scale[:, None] * self.s_z[o][None, :]
        v = np.repeat(self.v0[None, :], k, axis=0)
        converged = np.zeros(k, dtype=bool)
        for _ in range(self.max_iter):
            vm = np.abs(v)
            s_load = fixed + s_i * vm + s_z * vm * vm
            v_new = self._times_z(np.conj(-s_load / v)) + self.v0
            step = np.max(np.abs(v_new - v), axis=1)
            v = v_new
            converged = step < self.tol
            if converged.all():
                break
        vm_all = np.empty((k, self.nb))
        vm_all[:, self.slack] = abs(self.v_slack)
        vm_all[:, o] = np.where(
            converged[:, None] & np.isfinite(v).all(axis=1)[:, None], np.abs(v), 0.0
        )
        return vm_all

    def _times_z(self, current: ComplexArray) -> ComplexArray:
        """``current @ Z^T`` in row blocks: small products stay single-threaded in
        OpenBLAS; one big threaded product is 10-20x slower on a busy 2-core box."""
        out = np.empty_like(current)
        for a in range(0, current.shape[0], CHUNK_ROWS):
            np.matmul(current[a : a + CHUNK_ROWS], self.z_t, out=out[a : a + CHUNK_ROWS])
        return out

    def node_voltages(self, vm: FloatArray, nodes: list[str]) -> FloatArray:
        """Columns of ``vm`` for ``nodes`` (shape (k, len(nodes)))."""
        return vm[:, [self.node_index[n] for n in nodes]]
