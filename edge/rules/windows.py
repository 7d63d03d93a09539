"""Staged start windows (LBNL fleet rule), in the site's time zone and DST-correct.

A window ``opens``-``closes`` in local wall-clock time belongs to a *charging
night*: for the night that starts on the evening of local date D, the window
opens at D ``opens`` when ``opens`` is later in the day than ``closes`` (e.g.
21:30, before midnight), else at D+1 ``opens`` (e.g. 01:30, after midnight), and
closes at D+1 ``closes``. Instants are resolved in UTC, so a DST change night is
neither longer nor shorter than the wall clock says:

* a wall time that does not exist (spring forward, e.g. 02:30 on a US change
  night) opens at the transition instant, the first moment the clock reads
  later than ``opens``;
* a wall time that happens twice (fall back, e.g. 01:30) opens at its first
  occurrence; the window does not close again when the clock repeats the hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def resolve_local(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The first UTC instant at which the local clock on ``day`` reads ``wall`` or later."""
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    lo, hi = min(first, second), max(first, second)
    if _wall(lo, zone) == naive:
        return lo  # normal, or the first of two occurrences
    if _wall(hi, zone) == naive:
        return hi
    # in a gap: the transition instant lies in (lo, hi]; find it to the second
    while (hi - lo) > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if _wall(mid, zone) >= naive:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


@dataclass(frozen=True)
class WindowState:
    open: bool
    opened_at: datetime | None  # UTC, this night's opening when open
    next_change: datetime  # UTC: next opening when closed, the closing when open


def night_window(
    night: date, opens: time, closes: time, zone: ZoneInfo
) -> tuple[datetime, datetime]:
    """(open, close) in UTC of the window of the charging night starting on ``night``."""
    open_day = night if opens > closes else night + timedelta(days=1)
    close_day = night + timedelta(days=1)
    return resolve_local(open_day, opens, zone), resolve_local(close_day, closes, zone)


def window_state(now: datetime, opens: time, closes: time, zone: ZoneInfo) -> WindowState:
    """Whether the window is open at ``now`` (aware), and when that next changes."""
    local_day = now.astimezone(zone).date()
    upcoming: list[datetime] = []
    for offset in (-1, 0, 1):
        start, end = night_window(local_day + timedelta(days=offset), opens, closes, zone)
        if start <= now < end:
            return WindowState(True, start, end)
        if start > now:
            upcoming.append(start)
    return WindowState(False, None, min(upcoming))
