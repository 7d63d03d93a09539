"""Meter history: the same-weekday forecast (pure) and the state file (tmp_path)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from edge.config import EdgeConfig, load_site_config
from edge.daemon.demand import DemandTracker
from edge.daemon.history import SiteHistory, base_sample_kw, forecast_kw
from edge.daemon.inputs import SiteReadings
from edge.planning import PlanRequest
from edge.tariff.loader import load_tariff

LA = ZoneInfo("America/Los_Angeles")
TZ = "America/Los_Angeles"
Q = timedelta(minutes=15)


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LA).astimezone(UTC)


def site_config(state_dir: Path | None = None, **control: Any) -> EdgeConfig:
    if state_dir is not None:
        control["state_dir"] = str(state_dir)
    return load_site_config(
        None,
        overrides={
            "site": {"id": "hist-site", "timezone": TZ, "import_limit_kw": 100},
            "control": control,
            "meters": {"main": {}, "dcfc": {}, "pv": {}},
            "metrics": {"enabled": False},
        },
    )


def readings(main: float, pv: float = 0.0, dcfc: float | None = 0.0) -> SiteReadings:
    return SiteReadings(
        meters={"main": main, "pv": pv, "dcfc": dcfc}, non_ev_kw=main, base_kw=main - pv
    )


def request_at(now: datetime) -> PlanRequest:
    return PlanRequest(now=now, timezone=TZ, vehicles=[], import_limit_kw=100.0)


# -- the forecast (pure) -----------------------------------------------------------


def test_forecast_takes_the_same_weekday_not_the_day_before() -> None:
    start = local(2026, 7, 13, 0, 0)  # Monday 00:00 PDT
    history = []
    for day in range(7):  # last week: each day its own level, Monday 40 kW
        t0 = start - timedelta(days=7 - day)
        level = 40.0 if t0.astimezone(LA).weekday() == 0 else 10.0 + day
        history += [(t0 + i * Q, level) for i in range(96)]
    out = forecast_kw(history, start, 192, None, weeks=4, timezone=TZ)
    assert out[:96] == [40.0] * 96  # Monday's level, not Sunday's (16 kW)
    assert out[96:] == [11.0] * 96  # Tuesday


def test_forecast_averages_weeks_and_forgets_older_ones() -> None:
    start = local(2026, 7, 15, 12, 0)  # Wednesday noon
    history = [(start - timedelta(weeks=w), kw) for w, kw in ((1, 30.0), (2, 50.0), (5, 900.0))]
    out = forecast_kw(history, start, 4, None, weeks=4, timezone=TZ)
    assert out[0] == 40.0  # week 5 is outside the window
    assert out[1:] == [40.0] * 3  # slots without history: the mean of recent history


@pytest.mark.parametrize(
    ("last_monday", "monday", "utc_then", "utc_now"),
    [  # US spring forward on Sunday 2026-03-08, fall back on Sunday 2026-11-01
        ((2026, 3, 2), (2026, 3, 9), datetime(2026, 3, 3, 2, tzinfo=UTC), (2026, 3, 10, 1)),
        ((2026, 10, 26), (2026, 11, 2), datetime(2026, 10, 27, 1, tzinfo=UTC), (2026, 11, 3, 2)),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_forecast_follows_local_time_through_a_dst_change(
    last_monday: tuple[int, int, int],
    monday: tuple[int, int, int],
    utc_then: datetime,
    utc_now: tuple[int, int, int, int],
) -> None:
    # Monday 18:00 local is another UTC hour after the change: a week in UTC would
    # pick the wrong slot
    before = local(*last_monday, 0, 0)
    history = [(before + i * Q, 10.0) for i in range(96)]
    history[18 * 4] = (history[18 * 4][0], 70.0)
    assert history[18 * 4][0] == utc_then
    start = local(*monday, 0, 0)
    out = forecast_kw(history, start, 96, None, weeks=4, timezone=TZ)
    assert (start + 72 * Q) == datetime(*utc_now, tzinfo=UTC)
    assert out[72] == 70.0
    assert out[71] == out[73] == 10.0


def test_forecast_falls_back_to_the_present_reading() -> None:
    start = local(2026, 7, 13, 0, 0)
    assert forecast_kw([], start, 192, 12.5, weeks=4, timezone=TZ) == [12.5]
    assert forecast_kw([], start, 192, None, weeks=4, timezone=TZ) == []
    stale = [(start - timedelta(weeks=6), 99.0)]  # only history older than the window
    assert forecast_kw(stale, start, 192, 12.5, weeks=4, timezone=TZ) == [12.5]
    # with history, interval 0 is the present reading and the rest the forecast
    history = [(start - timedelta(weeks=1) + i * Q, 20.0) for i in range(4)]
    assert forecast_kw(history, start, 4, 12.5, weeks=4, timezone=TZ) == [12.5, 20.0, 20.0, 20.0]


def test_base_sample_needs_every_component_meter() -> None:
    cfg = site_config()
    site = SiteReadings(meters={"main": 30.0, "dcfc": 12.0, "pv": -5.0}, non_ev_kw=25.0)
    assert base_sample_kw(cfg, site) == pytest.approx(25.0 - 12.0 + 5.0)
    site.meters["dcfc"] = None  # stale: the split into base and DCFC is unknown
    assert base_sample_kw(cfg, site) is None
    assert base_sample_kw(cfg, SiteReadings(meters={"main": None})) is None


# -- the history in the daemon's hands, and its state file ----------------------------


async def updated(history: SiteHistory, at: datetime, site: SiteReadings) -> None:
    """One tick's update, and the write the daemon's state-writer task would do."""
    history.update(at, site)
    await history.write_pending()


async def feed(history: SiteHistory, start: datetime, hours: int, kw: float) -> datetime:
    at = start
    for _ in range(hours * 4):
        await updated(history, at, readings(kw, pv=-3.0))
        history.demand.add(at, kw)
        at += Q
    return at


async def test_forecasts_reach_the_plan_request_and_memory_only_writes_nothing(
    tmp_path: Path,
) -> None:
    cfg = site_config()  # no state_dir
    history = SiteHistory(cfg, DemandTracker(), local(2026, 7, 6, 0, 0))
    now = await feed(history, local(2026, 7, 6, 0, 0), 24 * 7, 20.0)
    req = history.with_forecasts(request_at(now + timedelta(minutes=5)), readings(33.0, pv=-4.0))
    assert len(req.base_load_forecast_kw) == 192
    assert req.base_load_forecast_kw[0] == 37.0  # present: main - pv (PV is its own series)
    assert set(req.base_load_forecast_kw[1:]) == {23.0}
    assert req.pv_forecast_kw[0] == 4.0 and set(req.pv_forecast_kw[1:]) == {3.0}
    assert history.file is None


async def test_state_round_trip_restores_history_and_month_peaks(tmp_path: Path) -> None:
    cfg = site_config(tmp_path / "state")
    demand = DemandTracker()
    history = SiteHistory(cfg, demand, local(2026, 7, 6, 0, 0))
    now = await feed(history, local(2026, 7, 6, 0, 0), 24 * 7, 20.0)
    await updated(history, now, readings(90.0))  # a new interval begins: written
    history.flush(now)
    path = tmp_path / "state" / "edge-hist-site.json"
    assert path.exists()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left

    demand2 = DemandTracker()
    restored = SiteHistory(cfg, demand2, now)
    for series in ("base", "pv", "main"):
        assert restored.meters.samples(series) == history.meters.samples(series)
    tariff = load_tariff("pge-e19")
    assert demand2.month_peaks(tariff, now) == demand.month_peaks(tariff, now) != {}
    req = request_at(now)
    assert restored.with_forecasts(req, readings(33.0)) == history.with_forecasts(
        req, readings(33.0)
    )


async def test_state_file_is_written_at_most_once_per_interval(tmp_path: Path) -> None:
    cfg = site_config(tmp_path)
    history = SiteHistory(cfg, DemandTracker(), local(2026, 7, 6, 0, 0))
    assert history.file is not None
    t0 = local(2026, 7, 6, 0, 1)
    for s in range(0, 840, 60):  # 14 ticks in one interval
        await updated(history, t0 + timedelta(seconds=s), readings(10.0))
    first = history.file.path.read_bytes()
    assert orjson.loads(first)["history"]["main"] == [[t0.timestamp() - 60, 10.0, 1]]
    await updated(history, t0 + timedelta(seconds=899), readings(10.0))  # next interval
    assert orjson.loads(history.file.path.read_bytes())["history"]["main"][0][2] == 14


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"version": 1, "site_id": "hist-site", "interval_s": 900, "history": {"main": 5}}',
        b'{"version": 99, "site_id": "hist-site", "interval_s": 900}',
        b'{"version": 1, "site_id": "another-site", "interval_s": 900}',
        b"",
    ],
    ids=["not-json", "bad-rows", "unknown-version", "other-site", "empty"],
)
async def test_corrupt_state_file_is_moved_aside_and_ignored(
    tmp_path: Path, content: bytes
) -> None:
    cfg = site_config(tmp_path)
    path = tmp_path / "edge-hist-site.json"
    path.write_bytes(content)
    history = SiteHistory(cfg, DemandTracker(), local(2026, 7, 6, 0, 0))  # does not raise
    assert history.meters.samples("main") == []
    assert (tmp_path / "edge-hist-site.json.corrupt").read_bytes() == content
    at = local(2026, 7, 6, 0, 0)
    await updated(history, at, readings(10.0))  # and a good file replaces it
    assert orjson.loads(path.read_bytes())["history"]["main"] == [[at.timestamp(), 10.0, 1]]


async def test_unwritable_state_dir_never_stops_the_tick(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the directory should be")
    history = SiteHistory(site_config(blocker), DemandTracker(), local(2026, 7, 6, 0, 0))
    await updated(history, local(2026, 7, 6, 0, 0), readings(10.0))
    await updated(history, local(2026, 7, 6, 0, 15), readings(12.0))
    history.flush(local(2026, 7, 6, 0, 20))
    assert [kw for _, kw in history.meters.samples("main")] == [10.0, 12.0]
