"""DCFC shed (LBNL): while the DC fast charger draws over the threshold, hold shed groups.

Engages on the first reading above ``threshold_kw``. Releases on a reading below
``release_kw`` (hysteresis) once ``min_hold_s`` have passed since the last reading
above the threshold, so a noisy meter does not make the chargers flap.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ShedParams:
    threshold_kw: float = 10.0
    release_kw: float = 10.0
    limit_kw: float = 1.65
    min_hold_s: float = 60.0


@dataclass(frozen=True)
class ShedState:
    active: bool = False
    since: datetime | None = None  # when it engaged
    last_above: datetime | None = None  # last reading above the threshold
    reading_kw: float | None = None  # the reading behind the last change


def update_shed(state: ShedState, dcfc_kw: float, at: datetime, p: ShedParams) -> ShedState:
    """The new state after a DCFC reading of ``dcfc_kw`` taken at ``at``."""
    if dcfc_kw > p.threshold_kw:
        if state.active:
            return replace(state, last_above=at)
        return ShedState(True, since=at, last_above=at, reading_kw=dcfc_kw)
    if not state.active:
        return state
    held = state.last_above is None or at - state.last_above >= timedelta(seconds=p.min_hold_s)
    if dcfc_kw < p.release_kw and held:
        return ShedState(False, since=at, last_above=state.last_above, reading_kw=dcfc_kw)
    return state


def release_due(state: ShedState, p: ShedParams) -> datetime | None:
    """Earliest time a release may happen (for a wake-up), None when not active."""
    if not state.active or state.last_above is None:
        return None
    return state.last_above + timedelta(seconds=p.min_hold_s)
