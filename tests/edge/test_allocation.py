"""Site import limit and the 1.5 kW floor."""

from __future__ import annotations

import random

import pytest

from edge.rules import Want, allocate
from edge.rules.allocation import water_level


def limits(allocs: list) -> dict[str, float]:
    return {a.key: a.limit_kw for a in allocs}


def test_everything_fits_unchanged() -> None:
    out = allocate([Want("a", 6.6), Want("b", 3.0), Want("c", 0.0)], budget_kw=50)
    assert limits(out) == {"a": 6.6, "b": 3.0, "c": 0.0}
    assert all(a.rule is None for a in out)


def test_small_wanted_limit_is_raised_to_the_floor() -> None:
    out = allocate([Want("a", 1.0)], budget_kw=10)
    assert out[0].limit_kw == 1.5 and out[0].rule == "floor"


def test_site_limit_shares_the_budget_by_water_filling() -> None:
    out = allocate([Want("a", 6.6), Want("b", 6.6), Want("c", 2.0)], budget_kw=10)
    got = limits(out)
    assert got["c"] == 2.0
    assert got["a"] == got["b"] == 4.0
    assert sum(got.values()) <= 10


def test_floor_gives_zero_to_the_least_needy() -> None:
    wants = [Want(f"v{i}", 6.6, need_kw=float(i)) for i in range(5)]
    out = allocate(wants, budget_kw=4.6)  # room for three at 1.5 kW
    got = limits(out)
    assert got["v0"] == got["v1"] == 0.0  # least need
    assert all(got[k] >= 1.5 for k in ("v2", "v3", "v4"))
    assert sum(got.values()) <= 4.6
    assert {a.rule for a in out if a.limit_kw == 0} == {"floor"}


def test_no_budget_no_charging() -> None:
    out = allocate([Want("a", 6.6, 5.0)], budget_kw=-3)
    assert out[0].limit_kw == 0.0 and out[0].rule == "floor"


def test_unknown_budget_only_floor() -> None:
    out = allocate([Want("a", 6.6), Want("b", 0.5)], budget_kw=None)
    assert limits(out) == {"a": 6.6, "b": 1.5}


@pytest.mark.parametrize("seed", range(30))
def test_random_cases_hold_site_limit_and_floor(seed: int) -> None:
    rng = random.Random(seed)
    wants = [
        Want(f"v{i}", rng.choice([0.0, 1.0, 1.6, 1.65, 3.3, 6.6, 7.2]), rng.uniform(0, 10))
        for i in range(rng.randint(1, 40))
    ]
    budget = rng.uniform(-5, 120)
    out = allocate(wants, budget)
    total = sum(a.limit_kw for a in out)
    assert total <= max(budget, 0) + 1e-6
    for w, a in zip(wants, out, strict=True):
        assert a.limit_kw == 0 or a.limit_kw >= 1.5
        assert a.limit_kw <= max(w.limit_kw, 1.5) + 1e-9
        if w.limit_kw == 0:
            assert a.limit_kw == 0
    # the neediest are served first: anyone cut to 0 needs no more than anyone charging
    charging = [w.need_kw for w, a in zip(wants, out, strict=True) if a.limit_kw > 0]
    cut = [w.need_kw for w, a in zip(wants, out, strict=True) if a.limit_kw == 0 and w.limit_kw > 0]
    if charging and cut:
        assert max(cut) <= min(charging)


def test_water_level() -> None:
    assert water_level([1, 2, 10], 100) == float("inf")
    assert water_level([1, 2, 10], 9) == 6


def test_charging_vehicle_keeps_its_place_unless_clearly_less_needy() -> None:
    incumbent = Want("a", 6.6, need_kw=3.0, charging=True)
    close = Want("b", 6.6, need_kw=3.5)
    out = allocate([incumbent, close], budget_kw=2.0, stickiness_kw=1.0)
    assert limits(out) == {"a": 2.0, "b": 0.0}  # no swap for a 0.5 kW difference
    needier = Want("b", 6.6, need_kw=4.5)
    out = allocate([incumbent, needier], budget_kw=2.0, stickiness_kw=1.0)
    assert limits(out) == {"a": 0.0, "b": 2.0}
    assert limits(allocate([incumbent, close], budget_kw=2.0)) == {"a": 0.0, "b": 2.0}
