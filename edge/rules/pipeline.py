"""The rules in order, over plain data: plan -> stale fallback -> windows -> shed -> site + floor.

Every decision carries the rule that set it last and the reasons of every rule
that touched it (which rule, which reading), for the log and the limits topic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from edge.rules.allocation import Want, allocate
from edge.rules.shed import ShedParams, ShedState
from edge.rules.windows import window_state


@dataclass(frozen=True)
class GroupRules:
    name: str
    opens: time | None = None
    closes: time | None = None
    safe_limit_kw: float = 0.0
    shed: bool = False


@dataclass(frozen=True)
class ConnectorView:
    key: str  # "station_id/connector_id"
    group: str
    max_power_kw: float
    connected: bool
    need_kw: float = 0.0  # required average power to depart on time


@dataclass
class Decision:
    key: str
    group: str
    limit_kw: float
    rule: str  # the rule that set the final value: plan, idle, stale, window, shed, ...
    reasons: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


@dataclass(frozen=True)
class RuleInputs:
    now: datetime
    zone: ZoneInfo
    connectors: Sequence[ConnectorView]
    plan_kw: Mapping[str, float]
    groups: Mapping[str, GroupRules]
    shed_state: ShedState = field(default_factory=ShedState)
    shed: ShedParams = field(default_factory=ShedParams)
    budget_kw: float | None = None  # None: no fresh site reading (no site limit applied)
    budget_reason: str = ""
    stale_groups: Mapping[str, str] = field(default_factory=dict)  # group -> why
    floor_kw: float = 1.5
    charging: frozenset[str] = frozenset()  # keys with a non-zero limit last tick
    stickiness_kw: float = 0.0


@dataclass
class Outcome:
    decisions: list[Decision]
    activations: Counter[str]
    windows_open: dict[str, bool]

    def limits_kw(self) -> dict[str, float]:
        return {d.key: d.limit_kw for d in self.decisions}


def decide(inp: RuleInputs) -> Outcome:
    activations: Counter[str] = Counter()
    windows = _windows(inp)
    decisions: list[Decision] = []
    for conn in inp.connectors:
        group = inp.groups[conn.group]
        d = _base(conn, inp)
        if conn.group in inp.stale_groups:
            d.limit_kw, d.rule = group.safe_limit_kw, "stale"
            d.reasons.append(
                f"stale: {inp.stale_groups[conn.group]}; safe {group.safe_limit_kw:g} kW"
            )
        if conn.group in windows and not windows[conn.group][0] and d.limit_kw > 0:
            d.limit_kw, d.rule = 0.0, "window"
            d.reasons.append(windows[conn.group][1])
        if group.shed and inp.shed_state.active and d.limit_kw > inp.shed.limit_kw:
            d.limit_kw, d.rule = inp.shed.limit_kw, "shed"
            reading = inp.shed_state.reading_kw
            d.reasons.append(
                f"shed: dcfc {reading:.1f} kW > {inp.shed.threshold_kw:g} kW"
                f" -> {inp.shed.limit_kw:g} kW"
            )
        if d.rule in ("stale", "window", "shed"):
            activations[d.rule] += 1
        decisions.append(d)
    wants = [
        Want(d.key, d.limit_kw, c.need_kw, d.key in inp.charging)
        for d, c in zip(decisions, inp.connectors, strict=True)
    ]
    allocs = allocate(wants, inp.budget_kw, inp.floor_kw, inp.stickiness_kw)
    for d, alloc in zip(decisions, allocs, strict=True):
        if alloc.rule is not None:
            d.limit_kw, d.rule = alloc.limit_kw, alloc.rule
            reason = alloc.reason
            if alloc.rule == "site_limit" and inp.budget_reason:
                reason = f"{reason} ({inp.budget_reason})"
            d.reasons.append(reason)
            activations[alloc.rule] += 1
    return Outcome(decisions, activations, {g: s[0] for g, s in windows.items()})


def _base(conn: ConnectorView, inp: RuleInputs) -> Decision:
    if not conn.connected:
        return Decision(conn.key, conn.group, 0.0, "idle", ["idle: no vehicle"])
    planned = min(max(0.0, inp.plan_kw.get(conn.key, 0.0)), conn.max_power_kw)
    return Decision(conn.key, conn.group, planned, "plan", [f"plan: {planned:.2f} kW"])


def _windows(inp: RuleInputs) -> dict[str, tuple[bool, str]]:
    out: dict[str, tuple[bool, str]] = {}
    for name, g in inp.groups.items():
        if g.opens is None or g.closes is None:
            continue
        st = window_state(inp.now, g.opens, g.closes, inp.zone)
        if st.open:
            out[name] = (True, f"window: {name} open since {st.opened_at:%Y-%m-%dT%H:%MZ}")
        else:
            local = st.next_change.astimezone(inp.zone)
            out[name] = (False, f"window: {name} closed, opens {local:%Y-%m-%d %H:%M %Z}")
    return out
