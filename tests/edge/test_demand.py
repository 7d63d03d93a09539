"""Month-to-date demand tracking that feeds the optimizer's peak carry-over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from edge.daemon.demand import DemandTracker
from edge.tariff.loader import load_tariff


def test_month_peaks_are_15_minute_averages_by_period() -> None:
    tariff = load_tariff("pge-e19")
    tracker = DemandTracker()
    # Wednesday 2026-07-15, 13:00 PDT = 20:00 UTC: summer peak period
    t0 = datetime(2026, 7, 15, 20, 0, tzinfo=UTC)
    for minute in range(15):  # one interval: half at 100 kW, half at 40 kW
        tracker.add(t0 + timedelta(minutes=minute), 100.0 if minute < 7.5 else 40.0)
    # 02:00 PDT next day (off-peak): a higher short spike
    night = datetime(2026, 7, 16, 9, 0, tzinfo=UTC)
    tracker.add(night, 90.0)
    peaks = tracker.month_peaks(tariff, night + timedelta(hours=1))
    avg = (8 * 100.0 + 7 * 40.0) / 15
    assert abs(peaks["peak"] - avg) < 1e-9
    assert abs(peaks["max"] - 90.0) < 1e-9  # the any-time maximum sees the night interval
    # a new billing month starts from nothing
    assert tracker.month_peaks(tariff, datetime(2026, 8, 2, tzinfo=UTC)) == {}
    assert tracker.month_peaks(None, night) == {}
