"""Staged start windows: local time, charging nights, DST change days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from edge.rules import night_window, resolve_local, window_state

LA = ZoneInfo("America/Los_Angeles")
CLOSE = time(8, 30)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("opens", "local_open"),
    [
        (time(21, 30), datetime(2026, 7, 1, 21, 30)),
        (time(23, 30), datetime(2026, 7, 1, 23, 30)),
        (time(1, 30), datetime(2026, 7, 2, 1, 30)),
        (time(3, 30), datetime(2026, 7, 2, 3, 30)),
    ],
)
def test_reference_windows_open_on_the_charging_night(opens: time, local_open: datetime) -> None:
    start, end = night_window(date(2026, 7, 1), opens, CLOSE, LA)
    assert start == local_open.replace(tzinfo=LA).astimezone(UTC)
    assert end == datetime(2026, 7, 2, 8, 30, tzinfo=LA).astimezone(UTC)
    assert not window_state(start - timedelta(seconds=1), opens, CLOSE, LA).open
    st = window_state(start, opens, CLOSE, LA)
    assert st.open and st.opened_at == start and st.next_change == end
    assert not window_state(end, opens, CLOSE, LA).open


def test_closed_state_names_the_next_opening() -> None:
    # 12:00 local in July (UTC-7): fleet-1 opens at 21:30 the same evening
    st = window_state(utc(2026, 7, 1, 19), time(21, 30), CLOSE, LA)
    assert not st.open
    assert st.next_change == utc(2026, 7, 2, 4, 30)


def test_spring_forward_nonexistent_time_opens_at_the_transition() -> None:
    # 2026-03-08: LA clocks jump from 02:00 PST to 03:00 PDT; 02:30 does not exist
    opened = resolve_local(date(2026, 3, 8), time(2, 30), LA)
    assert opened == utc(2026, 3, 8, 10, 0)  # 03:00 PDT, the first instant past 02:30
    st = window_state(utc(2026, 3, 8, 9, 59), time(2, 30), CLOSE, LA)
    assert not st.open and st.next_change == opened
    assert window_state(utc(2026, 3, 8, 10, 0), time(2, 30), CLOSE, LA).open


def test_spring_forward_night_windows_are_real_hours_apart() -> None:
    # night of Sat 7 Mar 2026: 21:30 PST and 03:30 PDT are 5 real hours apart, not 6
    a, _ = night_window(date(2026, 3, 7), time(21, 30), CLOSE, LA)
    b, end = night_window(date(2026, 3, 7), time(3, 30), CLOSE, LA)
    assert b - a == timedelta(hours=5)
    assert end == utc(2026, 3, 8, 15, 30)  # 08:30 PDT


def test_fall_back_repeated_hour_does_not_close_the_window() -> None:
    # 2026-11-01: LA 01:00-02:00 happens twice; the 01:30 window opens at the first 01:30
    opens = time(1, 30)
    first = resolve_local(date(2026, 11, 1), opens, LA)
    assert first == utc(2026, 11, 1, 8, 30)  # 01:30 PDT
    # during the repeated hour the wall clock reads 01:00-01:29 again: still open
    for minutes in range(0, 120, 10):
        assert window_state(first + timedelta(minutes=minutes), opens, CLOSE, LA).open
    st = window_state(first, opens, CLOSE, LA)
    assert st.next_change == utc(2026, 11, 1, 16, 30)  # 08:30 PST


def test_fall_back_night_is_an_hour_longer() -> None:
    start, end = night_window(date(2026, 10, 31), time(21, 30), CLOSE, LA)
    assert end - start == timedelta(hours=12)  # 11 h on an ordinary night


def test_daytime_window_and_other_zone() -> None:
    oslo = ZoneInfo("Europe/Oslo")
    st = window_state(utc(2026, 1, 5, 9, 30), time(10, 0), time(14, 0), oslo)
    assert st.open  # 10:30 local
    st = window_state(utc(2026, 1, 5, 13, 30), time(10, 0), time(14, 0), oslo)
    assert not st.open and st.next_change == utc(2026, 1, 6, 9, 0)
