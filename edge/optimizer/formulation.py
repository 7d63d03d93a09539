"""The dispatch MILP as plain sparse arrays (the hot path; edge/optimizer/pyomo_model.py
states the same model in pyomo as the reference).

Columns (per interval t, vehicle v, demand term k):
  p[v,t]  vehicle power, semi-continuous: 0 or [floor, cap]    cost: tie-break only
  s[v]    unmet energy due in the horizon                          cost: alpha (1 + 0.1 prio)
  imp[t], exp[t]  grid import / export                        cost: price h, -export price h
  over[t] import above the site limit (keeps the model feasible; heavily penalised)
  curt[t] PV curtailed
  ch[t], dis[t], soc[t..T]  stationary battery
  z[t]    1 = importing, 0 = exporting (no simultaneous import and export)
  D[k]    peak of demand term k, >= the month's carried peak  cost: rate (LBNL eq. 12-14)
Rows: energy owed per vehicle (>= with s, <= without), site balance per interval,
battery state of charge, import/export exclusivity, demand peaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from edge.optimizer.config import OptimizerSection
from edge.optimizer.problem import Problem

INF = float("inf")


@dataclass
class Model:
    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    semi: np.ndarray  # bool per column: semi-continuous (the p columns)
    binary: np.ndarray  # bool per column: z columns
    matrix: sparse.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    cols: dict[str, np.ndarray] = field(default_factory=dict)  # name -> column indices
    p_index: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=int))  # (V,T), -1


class _Builder:
    def __init__(self) -> None:
        self.cost: list[np.ndarray] = []
        self.lower: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []
        self.n_col = 0
        self.n_row = 0
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.row_lower: list[np.ndarray] = []
        self.row_upper: list[np.ndarray] = []

    def add_cols(
        self, cost: np.ndarray, lower: np.ndarray | float, upper: np.ndarray | float
    ) -> np.ndarray:
        n = len(cost)
        self.cost.append(np.asarray(cost, float))
        self.lower.append(np.broadcast_to(np.asarray(lower, float), (n,)).copy())
        self.upper.append(np.broadcast_to(np.asarray(upper, float), (n,)).copy())
        idx = np.arange(self.n_col, self.n_col + n)
        self.n_col += n
        return idx

    def add_rows(self, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
        n = len(lower)
        self.row_lower.append(np.asarray(lower, float))
        self.row_upper.append(np.asarray(upper, float))
        idx = np.arange(self.n_row, self.n_row + n)
        self.n_row += n
        return idx

    def entries(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray | float) -> None:
        rows, cols = np.asarray(rows), np.asarray(cols)
        self.rows.append(rows.ravel())
        self.cols.append(cols.ravel())
        self.vals.append(np.broadcast_to(np.asarray(vals, float), rows.shape).ravel())


def build_model(prob: Problem, cfg: OptimizerSection) -> Model:
    b = _Builder()
    nv, nt = prob.n_vehicles, prob.n_intervals
    h = prob.hours
    mid_h = np.cumsum(h) - h / 2
    active = prob.ub_kw > 0
    vi, ti = np.nonzero(active)
    e = (h[None, :] * prob.frac)[vi, ti]  # kWh per kW in each active cell
    delay = cfg.tie_break_per_kwh * e * mid_h[ti] * (1.0 + prob.priority[vi])
    p = b.add_cols(delay, 0.0, prob.ub_kw[vi, ti])
    p_index = np.full((nv, nt), -1, dtype=int)
    p_index[vi, ti] = p
    s = b.add_cols(cfg.alpha_per_kwh * (1.0 + 0.1 * prob.priority), 0.0, INF)
    imp = b.add_cols(prob.price * h, 0.0, prob.import_limit_kw)
    over = b.add_cols(np.full(nt, cfg.overload_penalty_per_kwh) * h, 0.0, INF)
    cols = {"p": p, "s": s, "imp": imp, "over": over}
    # energy owed: sum e p + s >= E ; sum e p <= E (never past the target)
    owed = b.add_rows(prob.due_kwh, np.full(nv, INF))
    b.entries(owed[vi], p, e)
    b.entries(owed, s, 1.0)
    cap = b.add_rows(np.full(nv, -INF), prob.energy_kwh)
    b.entries(cap[vi], p, e)
    # balance: imp + over - exp - sum p - ch + dis - curt = base - pv
    bal = b.add_rows(prob.net_load_kw, prob.net_load_kw)
    b.entries(bal[ti], p, -1.0)
    b.entries(bal, imp, 1.0)
    b.entries(bal, over, 1.0)
    if prob.pv_kw.any():
        curt = b.add_cols(np.zeros(nt), 0.0, np.maximum(prob.pv_kw, 0.0))
        b.entries(bal, curt, -1.0)
        cols["curt"] = curt
    if prob.export_limit_kw > 0:
        exp = b.add_cols(-prob.export_price * h, 0.0, prob.export_limit_kw)
        b.entries(bal, exp, -1.0)
        z = b.add_cols(np.zeros(nt), 0.0, 1.0)
        r1 = b.add_rows(np.full(nt, -INF), np.zeros(nt))  # imp - L z <= 0
        b.entries(r1, imp, 1.0)
        b.entries(r1, z, -prob.import_limit_kw)
        r2 = b.add_rows(np.full(nt, -INF), np.full(nt, prob.export_limit_kw))  # exp + Lx z <= Lx
        b.entries(r2, exp, 1.0)
        b.entries(r2, z, prob.export_limit_kw)
        cols["exp"], cols["z"] = exp, z
    if prob.battery is not None:
        _battery(b, prob, bal, cols)
    for term in prob.demand:
        (d,) = b.add_cols(np.array([term.rate_per_kw]), term.carried_kw, INF)
        ts = np.nonzero(term.mask)[0]
        rows = b.add_rows(np.full(len(ts), -INF), np.zeros(len(ts)))
        b.entries(rows, imp[ts], 1.0)
        b.entries(rows, over[ts], 1.0)
        b.entries(rows, np.full(len(ts), d), -1.0)
        cols.setdefault("D", np.array([], dtype=int))
        cols["D"] = np.append(cols["D"], d)
    matrix = sparse.csc_matrix(
        (np.concatenate(b.vals), (np.concatenate(b.rows), np.concatenate(b.cols))),
        shape=(b.n_row, b.n_col),
    )
    semi = np.zeros(b.n_col, dtype=bool)
    semi[p] = True
    binary = np.zeros(b.n_col, dtype=bool)
    if "z" in cols:
        binary[cols["z"]] = True
    return Model(
        cost=np.concatenate(b.cost),
        lower=np.concatenate(b.lower),
        upper=np.concatenate(b.upper),
        semi=semi,
        binary=binary,
        matrix=matrix,
        row_lower=np.concatenate(b.row_lower),
        row_upper=np.concatenate(b.row_upper),
        cols=cols,
        p_index=p_index,
    )


def _battery(b: _Builder, prob: Problem, bal: np.ndarray, cols: dict[str, np.ndarray]) -> None:
    bat = prob.battery
    assert bat is not None
    nt, h = prob.n_intervals, prob.hours
    lo_kwh = bat.min_soc_pct / 100.0 * bat.energy_kwh
    hi_kwh = bat.max_soc_pct / 100.0 * bat.energy_kwh
    now_kwh = min(max(bat.soc_pct / 100.0 * bat.energy_kwh, lo_kwh), hi_kwh)
    wear = np.full(nt, 1e-5) * h  # keeps charge and discharge from running at once for free
    ch = b.add_cols(wear, 0.0, bat.power_kw)
    dis = b.add_cols(wear, 0.0, bat.power_kw)
    soc = b.add_cols(np.zeros(nt + 1), np.full(nt + 1, lo_kwh), np.full(nt + 1, hi_kwh))
    b.lower[-1][0] = b.upper[-1][0] = now_kwh
    b.lower[-1][-1] = now_kwh  # end no emptier than now: no free energy from the battery
    b.entries(bal, ch, -1.0)
    b.entries(bal, dis, 1.0)
    rows = b.add_rows(np.zeros(nt), np.zeros(nt))
    t = np.arange(nt)
    b.entries(rows, soc[t + 1], 1.0)
    b.entries(rows, soc[t], -1.0)
    b.entries(rows, ch, -bat.efficiency * h)
    b.entries(rows, dis, h / bat.efficiency)
    cols["ch"], cols["dis"], cols["soc"] = ch, dis, soc
