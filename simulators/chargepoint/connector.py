"""Connector state and the power flow: what each plugged-in EV draws, over time.

:func:`advance` integrates every connector from its last step to ``now``. It splits
the interval wherever a composite schedule changes, so energy is exact even when a
limit changes between meter samples, and shares the station-wide limit (station max
profile, or the station's own total) among the connectors that are drawing.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from simulators.chargepoint.config import StationConfig
from simulators.chargepoint.store import ProfileStore
from simulators.ports import EvLoad
from simulators.profiles import TxContext
from simulators.profiles.composite import applicable, breakpoints, offered_w

_refs = itertools.count(1)


@dataclass
class Transaction:
    id_token: str
    started_at: datetime
    meter_start_wh: float
    local_ref: str = field(default_factory=lambda: f"tx{next(_refs)}")
    csms_id: str | None = None  # 1.6: the CSMS's integer id (as str) once known; 2.0.1: ours
    seq_no: int = 0  # 2.0.1 TransactionEvent seqNo
    remote_start_id: int | None = None
    stop_reason: str | None = None

    def next_seq(self) -> int:
        seq = self.seq_no
        self.seq_no += 1
        return seq


@dataclass
class Connector:
    connector_id: int
    last_step: datetime
    ev: EvLoad | None = None
    tx: Transaction | None = None
    energy_wh: float = 0.0  # lifetime register, never reset
    power_w: float = 0.0  # average over the last integrated segment
    offered_w: float = 0.0
    operative: bool = True
    scheduled_operative: bool | None = None  # availability change waiting for the tx to end
    finishing: bool = False  # transaction over, EV still plugged (1.6 Finishing)
    reported_status: str | None = None
    resume_after_boot: bool = False  # EV still plugged when the station rebooted
    reported_charging_state: str | None = None
    #: a remote start waiting for the cable: (id token, remoteStartId, expiry)
    pending_remote: tuple[str, int | None, datetime] | None = None

    @property
    def charging_state(self) -> str:
        """2.0.1 ChargingStateEnumType; 1.6 statuses are derived from it."""
        if self.ev is None:
            return "Idle"
        if self.tx is None:
            return "EVConnected"
        if self.power_w > 0:
            return "Charging"
        if self.offered_w <= 0:
            return "SuspendedEVSE"
        return "SuspendedEV"

    def tx_context(self) -> TxContext | None:
        if self.tx is None:
            return None
        return TxContext(self.tx.started_at, self.tx.csms_id)

    def phases_used(self, config: StationConfig) -> int:
        phases = min(self.ev.phases, config.phase_count) if self.ev else config.phase_count
        return max(1, phases)

    def current_a(self, config: StationConfig) -> float:
        """Current per phase used."""
        return self.power_w / (config.volts * self.phases_used(config))


def _offered_w(
    config: StationConfig, store: ProfileStore, c: Connector, t: datetime, window_start: datetime
) -> float:
    if c.ev is None or c.tx is None or not c.operative:
        return 0.0
    electrical = config.electrical(c.connector_id)
    if config.quirks.ignores_limits:
        return electrical.max_power_w
    return offered_w(
        applicable(store.profiles, c.connector_id, c.tx_context()),
        t,
        electrical=electrical,
        ev_phases=c.ev.phases,
        window_start=window_start,
        tx=c.tx_context(),
    )


def _share(cap_w: float, wants_w: Sequence[float]) -> list[float]:
    """Water-filling: nobody gets more than it wants, the rest is shared equally."""
    out = [0.0] * len(wants_w)
    left = cap_w
    order = sorted(range(len(wants_w)), key=lambda i: wants_w[i])
    for n, i in enumerate(order):
        fair = left / (len(order) - n)
        out[i] = min(wants_w[i], fair)
        left -= out[i]
    return out


def advance(
    config: StationConfig, store: ProfileStore, connectors: Sequence[Connector], now: datetime
) -> None:
    """Integrate every connector up to ``now`` (all share one ``last_step``)."""
    if not connectors:
        return
    t0 = min(c.last_step for c in connectors)
    if now <= t0:
        return
    t1 = now
    station = store.composite(0, t0, math.ceil((t1 - t0).total_seconds()), "W")
    cuts = {t0, t1}
    cuts.update(t0 + timedelta(seconds=p.start_s) for p in station.periods)
    for c in connectors:
        tx = c.tx_context()
        cuts.update(breakpoints(applicable(store.profiles, c.connector_id, tx), t0, t1, tx))
    edges = sorted(x for x in cuts if t0 <= x <= t1)
    for a, b in itertools.pairwise(edges):
        cap_w = station.limit_at((a - t0).total_seconds())
        _step(config, store, connectors, cap_w, a, t0, (b - a).total_seconds())
    for c in connectors:
        c.last_step = t1


def _step(
    config: StationConfig,
    store: ProfileStore,
    connectors: Sequence[Connector],
    station_cap_w: float,
    t: datetime,
    window_start: datetime,
    dt_s: float,
) -> None:
    offers = [_offered_w(config, store, c, t, window_start) for c in connectors]
    wants = [
        min(o, c.ev.max_power_kw() * 1000.0) if c.ev else 0.0
        for o, c in zip(offers, connectors, strict=True)
    ]
    cap_w = float("inf") if config.quirks.ignores_limits else station_cap_w
    if sum(wants) > cap_w:
        shares = _share(cap_w, wants)
        offers = [min(o, s) if w > 0 else o for o, s, w in zip(offers, shares, wants, strict=True)]
    for c, offered in zip(connectors, offers, strict=True):
        c.offered_w = offered
        if c.ev is None or c.tx is None:
            c.power_w = 0.0
            continue
        drawn_kw = c.ev.step(offered / 1000.0, dt_s)
        c.power_w = max(0.0, drawn_kw * 1000.0)
        c.energy_wh += c.power_w * dt_s / 3600.0


def peek(config: StationConfig, store: ProfileStore, c: Connector, now: datetime) -> None:
    """Set a just-started connector's offer and expected draw without integrating time,
    so the transaction starts in the right charging state."""
    c.offered_w = _offered_w(config, store, c, now, now)
    c.power_w = min(c.offered_w, c.ev.max_power_kw() * 1000.0) if c.ev is not None else 0.0
