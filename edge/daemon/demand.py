"""Month-to-date demand from the main meter, for the optimizer's peak carry-over.

The LBNL formulation (eq. 11-14) charges only for raising the month's peak, so the
planner must know the peak already set in each demand period this billing month.
Readings are averaged into the tariff's demand intervals (15 minutes); the month's
peaks per period come from the same bill code that bills the site
(edge.tariff.bill.month_to_date_peaks), so planner and bill agree by construction.

Persisted with the meter history (edge.daemon.history) when ``control.state_dir`` is
set: the 15-minute sums and counts are written to the state file at most once per
interval and restored at start-up, so the month's earlier peaks survive a restart.
Without a state directory (or with a missing or corrupt file) they are held in memory
only: after a restart the month's earlier peak is unknown until it is set again, which
makes the plan more conservative, never costlier than the bill.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from edge.tariff.bill import month_to_date_peaks
from edge.tariff.model import Tariff

KEEP = timedelta(days=40)  # longer than any billing month


class DemandTracker:
    def __init__(self, interval_s: int = 900):
        self.interval_s = interval_s
        self._sums: dict[datetime, tuple[float, int]] = {}

    def _bucket(self, at: datetime) -> datetime:
        ts = at.astimezone(UTC).timestamp()
        return datetime.fromtimestamp(ts - ts % self.interval_s, UTC)

    def add(self, at: datetime, power_kw: float) -> None:
        key = self._bucket(at)
        total, n = self._sums.get(key, (0.0, 0))
        self._sums[key] = (total + power_kw, n + 1)
        if len(self._sums) % 96 == 0:
            cutoff = key - KEEP
            self._sums = {k: v for k, v in self._sums.items() if k >= cutoff}

    def export(self) -> list[tuple[float, float, int]]:
        """(interval start as epoch seconds, sum of readings in kW, count) per interval."""
        return [(k.timestamp(), total, n) for k, (total, n) in sorted(self._sums.items())]

    def restore(self, rows: list[tuple[float, float, int]], now: datetime) -> None:
        """Merge exported rows (older than ``KEEP`` before ``now`` are dropped)."""
        cutoff = self._bucket(now) - KEEP
        for ts, total, n in rows:
            key = self._bucket(datetime.fromtimestamp(ts, UTC))
            if key >= cutoff and n > 0:
                old_total, old_n = self._sums.get(key, (0.0, 0))
                self._sums[key] = (old_total + total, old_n + n)

    def samples(self) -> list[tuple[datetime, float]]:
        return [(k, total / n) for k, (total, n) in sorted(self._sums.items())]

    def month_peaks(self, tariff: object | None, now: datetime) -> dict[str, float]:
        if not isinstance(tariff, Tariff) or not self._sums:
            return {}
        return month_to_date_peaks(self.samples(), tariff, now)
