"""DCFC shed: engage above the threshold, release below with hysteresis and hold."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from edge.rules import ShedParams, ShedState, release_due, update_shed

T0 = datetime(2026, 7, 1, 12, tzinfo=UTC)
P = ShedParams(threshold_kw=10.0, release_kw=8.0, limit_kw=1.65, min_hold_s=60)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def run(readings: Sequence[tuple[float, float]], p: ShedParams = P) -> list[bool]:
    st = ShedState()
    out = []
    for t, kw in readings:
        st = update_shed(st, kw, at(t), p)
        out.append(st.active)
    return out


def test_engages_on_the_first_reading_over_the_threshold() -> None:
    assert run([(0, 5.0), (10, 10.0), (20, 10.1)]) == [False, False, True]


def test_releases_only_below_release_level_and_after_hold() -> None:
    seq = [(0, 45.0), (10, 9.0), (30, 3.0), (70, 9.0), (75, 7.9)]
    # 9.0 is below the threshold but above release (hysteresis): held
    # 3.0 at 30 s: below release but within the 60 s hold: held
    # 9.0 at 70 s: hold passed but above release: held; 7.9 at 75 s: released
    assert run(seq) == [True, True, True, True, False]


def test_noisy_reading_around_threshold_does_not_flap() -> None:
    noisy = [(i * 5.0, 10.5 if i % 2 else 9.5) for i in range(40)]
    states = run(noisy)
    assert states[1:] == [True] * 39  # one engagement, no release while it hovers


def test_hold_counts_from_the_last_reading_above() -> None:
    st = update_shed(ShedState(), 40.0, at(0), P)
    st = update_shed(st, 40.0, at(100), P)
    assert release_due(st, P) == at(160)
    assert update_shed(st, 0.0, at(150), P).active
    released = update_shed(st, 0.0, at(160), P)
    assert not released.active and released.reading_kw == 0.0


def test_no_hysteresis_restores_below_threshold() -> None:
    p = ShedParams(10.0, 10.0, 1.65, 0.0)
    assert run([(0, 12.0), (1, 9.99)], p) == [True, False]
