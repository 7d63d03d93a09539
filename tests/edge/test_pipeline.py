"""The rules in order over plain data, each decision with its reason."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from edge.rules import ConnectorView, GroupRules, RuleInputs, ShedParams, ShedState, decide

LA = ZoneInfo("America/Los_Angeles")
GROUPS = {
    "fleet-1": GroupRules("fleet-1", time(21, 30), time(8, 30), safe_limit_kw=1.65),
    "fleet-2": GroupRules("fleet-2", time(23, 30), time(8, 30), safe_limit_kw=1.65, shed=True),
    "public": GroupRules("public", safe_limit_kw=0.0),
}
CONNS = [
    ConnectorView("F1/1", "fleet-1", 6.6, True, need_kw=2.0),
    ConnectorView("F2/1", "fleet-2", 6.6, True, need_kw=3.0),
    ConnectorView("P/1", "public", 6.6, True, need_kw=1.0),
    ConnectorView("P/2", "public", 6.6, False),
]
PLAN = {"F1/1": 6.6, "F2/1": 6.6, "P/1": 6.6}


def inputs(now: datetime, **kw: object) -> RuleInputs:
    base: dict[str, object] = dict(
        now=now, zone=LA, connectors=CONNS, plan_kw=PLAN, groups=GROUPS, budget_kw=100.0
    )
    base.update(kw)
    return RuleInputs(**base)  # type: ignore[arg-type]


def test_windows_close_groups_before_their_opening() -> None:
    at_2200_local = datetime(2026, 7, 2, 5, 0, tzinfo=UTC)
    out = decide(inputs(at_2200_local))
    lim = out.limits_kw()
    assert lim == {"F1/1": 6.6, "F2/1": 0.0, "P/1": 6.6, "P/2": 0.0}
    d = next(d for d in out.decisions if d.key == "F2/1")
    assert d.rule == "window" and "opens 2026-07-01 23:30 PDT" in d.reason
    assert out.windows_open == {"fleet-1": True, "fleet-2": False}
    assert out.activations["window"] == 1


def test_shed_holds_shed_groups_only() -> None:
    at_0000_local = datetime(2026, 7, 2, 7, 0, tzinfo=UTC)
    shed = ShedState(active=True, reading_kw=42.0)
    out = decide(inputs(at_0000_local, shed_state=shed, shed=ShedParams()))
    lim = out.limits_kw()
    assert lim["F2/1"] == 1.65 and lim["F1/1"] == 6.6 and lim["P/1"] == 6.6
    d = next(d for d in out.decisions if d.key == "F2/1")
    assert d.rule == "shed" and "dcfc 42.0 kW > 10 kW" in d.reason


def test_stale_groups_fall_back_to_safe_limits_but_windows_still_hold() -> None:
    at_2200_local = datetime(2026, 7, 2, 5, 0, tzinfo=UTC)
    stale = {g: "meter main silent for 300 s" for g in GROUPS}
    out = decide(inputs(at_2200_local, stale_groups=stale, budget_kw=None))
    lim = out.limits_kw()
    assert lim == {"F1/1": 1.65, "F2/1": 0.0, "P/1": 0.0, "P/2": 0.0}
    assert "stale: meter main silent" in out.decisions[0].reason


def test_site_limit_then_floor_with_reasons() -> None:
    at_0000_local = datetime(2026, 7, 2, 7, 0, tzinfo=UTC)
    out = decide(inputs(at_0000_local, budget_kw=4.0, budget_reason="10 kW limit - 6 kW non-EV"))
    lim = out.limits_kw()
    # room for two at the floor: the neediest two (F2 3.0, F1 2.0) share 4 kW, P/1 gets 0
    assert lim == {"F1/1": 2.0, "F2/1": 2.0, "P/1": 0.0, "P/2": 0.0}
    p1 = next(d for d in out.decisions if d.key == "P/1")
    assert p1.rule == "floor" and "rank 3 of 3" in p1.reason
    f1 = out.decisions[0]
    assert f1.rule == "site_limit" and "non-EV" in f1.reason
    assert out.activations["site_limit"] == 2 and out.activations["floor"] == 1


def test_plan_is_clamped_to_connector_max() -> None:
    now = datetime(2026, 7, 2, 7, 0, tzinfo=UTC)
    out = decide(inputs(now, plan_kw={"F1/1": 50.0, "P/1": 0.4}))
    lim = out.limits_kw()
    assert lim["F1/1"] == 6.6 and lim["P/1"] == 1.5 and lim["F2/1"] == 0.0
