"""Fleet schedules: departure and energy of vehicles whose station sends no charging needs."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from edge.config import GroupSection, StartWindow
from edge.daemon.inputs import scheduled_departure

LA = ZoneInfo("America/Los_Angeles")


def test_departs_is_the_next_local_time_after_plug_in() -> None:
    group = GroupSection(departs=time(6, 30))
    # plugged in 15:30 PDT (22:30 UTC): leaves 06:30 PDT next morning (13:30 UTC)
    arrival = datetime(2026, 7, 6, 22, 30, tzinfo=UTC)
    assert scheduled_departure(group, arrival, LA) == datetime(2026, 7, 7, 13, 30, tzinfo=UTC)
    # plugged in 05:00 local: leaves the same morning
    early = datetime(2026, 7, 7, 12, 0, tzinfo=UTC)
    assert scheduled_departure(group, early, LA) == datetime(2026, 7, 7, 13, 30, tzinfo=UTC)


def test_window_close_is_the_default_and_dst_is_respected() -> None:
    group = GroupSection(start_window=StartWindow(opens=time(21, 30)))  # closes 08:30
    # the night clocks fall back (2026-11-01 02:00 PDT -> 01:00 PST): 08:30 PST = 16:30 UTC
    arrival = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # 16:00 PDT
    assert scheduled_departure(group, arrival, LA) == datetime(2026, 11, 1, 16, 30, tzinfo=UTC)


def test_no_schedule_means_none() -> None:
    assert scheduled_departure(GroupSection(), datetime(2026, 7, 6, tzinfo=UTC), LA) is None
