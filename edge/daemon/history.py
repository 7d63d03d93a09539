"""Meter history of the edge: 15-minute averages for the planner's forecasts, persisted.

Every tick the controller records the site's base load (non-EV load less DCFC, PV and
battery: the building, which is what ``PlanRequest.base_load_forecast_kw`` means), the
PV meter and the main meter into 15-minute averages, kept for ``control.history_weeks``
weeks. The planner's base-load and PV forecasts are the same-weekday averages of those
weeks (``edge.optimizer.priority.same_weekday_forecast``); interval 0 is the present
reading, and with no history the present reading is the whole forecast.

With ``control.state_dir`` set, the history and the DemandTracker's month-to-date
intervals are written to ``<state_dir>/edge-<site>.json`` at most once per interval
by the daemon's ``state-writer`` task (write to a temp file, fsync, rename: a crash
leaves the old file or the new one) and on shutdown, and read at start-up. A missing
file starts empty; an unreadable or corrupt one is logged, moved aside to
``*.corrupt`` and ignored: the daemon never stops for its state file.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import tempfile
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from edge.config import EdgeConfig
from edge.daemon.demand import DemandTracker
from edge.daemon.inputs import SiteReadings
from edge.optimizer.priority import same_weekday_forecast
from edge.planning import INTERVAL_S, PlanRequest
from evcommon.logs import get_logger

FORMAT_VERSION = 1
FORECAST_HORIZON_S = 48 * 3600  # the planners' longest horizon
SERIES = ("base", "pv", "main")
Row = tuple[float, float, int]  # interval start (epoch s), sum of samples (kW), count


class StateDoc(BaseModel):
    """The state file's content (validated on load: a bad file is ignored)."""

    model_config = ConfigDict(extra="ignore")

    version: Literal[1]
    site_id: str
    interval_s: int
    saved_at: datetime | None = None
    history: dict[str, list[Row]] = {}
    demand: list[Row] = []


class MeterHistory:
    """Per series, sum and count of samples per interval, for the last ``weeks`` weeks."""

    def __init__(self, weeks: int = 4, interval_s: int = INTERVAL_S):
        self.weeks = weeks
        self.interval_s = interval_s
        self._sums: dict[str, dict[int, tuple[float, int]]] = {s: {} for s in SERIES}

    def bucket(self, at: datetime) -> int:
        ts = int(at.timestamp())
        return ts - ts % self.interval_s

    def add(self, series: str, at: datetime, value_kw: float) -> None:
        buckets = self._sums[series]
        key = self.bucket(at)
        total, n = buckets.get(key, (0.0, 0))
        buckets[key] = (total + value_kw, n + 1)

    def samples(self, series: str) -> list[tuple[datetime, float]]:
        """(interval start, average kW), oldest first."""
        return [
            (datetime.fromtimestamp(k, UTC), total / n)
            for k, (total, n) in sorted(self._sums[series].items())
        ]

    def prune(self, now: datetime) -> None:
        cutoff = self.bucket(now - timedelta(weeks=self.weeks))
        for series, buckets in self._sums.items():
            self._sums[series] = {k: v for k, v in buckets.items() if k >= cutoff}

    def export(self) -> dict[str, list[Row]]:
        return {
            s: [(float(k), total, n) for k, (total, n) in sorted(b.items())]
            for s, b in self._sums.items()
        }

    def restore(self, rows: dict[str, list[Row]], now: datetime) -> None:
        for series, series_rows in rows.items():
            if series not in self._sums:
                continue
            for ts, total, n in series_rows:
                if n > 0:
                    key = self.bucket(datetime.fromtimestamp(ts, UTC))
                    old_total, old_n = self._sums[series].get(key, (0.0, 0))
                    self._sums[series][key] = (old_total + total, old_n + n)
        self.prune(now)


def forecast_kw(
    samples: Sequence[tuple[datetime, float]],
    start: datetime,
    n_intervals: int,
    current_kw: float | None,
    *,
    weeks: int,
    timezone: str,
    interval_s: int = INTERVAL_S,
) -> list[float]:
    """Per interval from ``start`` (on the grid): the same-weekday, same local time of day
    average of the last ``weeks`` weeks; slots without history take the recent mean.

    Interval 0 is ``current_kw`` when known (what the site draws now beats any average).
    Without history in the window the forecast is ``[current_kw]`` (the planners repeat
    the last value), or empty when that is unknown too.
    """
    since = start - timedelta(weeks=weeks)
    recent = [(t, kw) for t, kw in samples if since <= t < start]
    if not recent:
        return [current_kw] if current_kw is not None else []
    out = same_weekday_forecast(
        recent, start, n_intervals, interval_s=interval_s, weeks=weeks, timezone=timezone
    )
    if current_kw is not None and out:
        out[0] = current_kw
    return out


def base_sample_kw(cfg: EdgeConfig, site: SiteReadings) -> float | None:
    """This tick's building load: non-EV load less DCFC, PV and battery meters.

    None when the main meter is stale or a configured DCFC/PV/battery meter is (the
    split would be wrong). Uses the tick's own estimate, not the interval's maximum
    that the site-limit rule uses, so the averages are not biased upwards.
    """
    if site.non_ev_kw is None:
        return None
    parts = 0.0
    for role in ("dcfc", "pv", "battery"):
        if role in cfg.meters:
            value = site.meters.get(role)
            if value is None:
                return None
            parts += value
    return site.non_ev_kw - parts


class StateFile:
    """One JSON file, replaced atomically; writes from threads are serialised."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._written_seq = -1

    def read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def write(self, data: bytes, seq: int) -> None:
        """Write if ``seq`` is newer than what is on disk (a late thread loses)."""
        with self._lock:
            if seq <= self._written_seq:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            self._written_seq = seq

    def move_aside(self) -> Path | None:
        target = self.path.with_name(self.path.name + ".corrupt")
        try:
            os.replace(self.path, target)
        except OSError:
            return None
        return target


class SiteHistory:
    """What the controller uses: record each tick, forecasts for the PlanRequest, persistence."""

    def __init__(self, cfg: EdgeConfig, demand: DemandTracker, now: datetime):
        self.cfg = cfg
        self.demand = demand
        self.meters = MeterHistory(cfg.control.history_weeks, INTERVAL_S)
        self.log = get_logger("edge.history", site_id=cfg.site.id)
        state_dir = cfg.control.state_dir
        self.file = StateFile(state_dir / f"edge-{cfg.site.id}.json") if state_dir else None
        self._saved_bucket: int | None = None
        self._seq = 0
        self._save_failing = False
        self._pending: tuple[bytes, int] | None = None
        self._dirty = asyncio.Event()
        self._cache: dict[str, tuple[datetime, list[float]]] = {}
        if self.file is not None:
            self.load(now)

    # -- recording -------------------------------------------------------------
    def record(self, now: datetime, site: SiteReadings) -> None:
        base = base_sample_kw(self.cfg, site)
        if base is not None:
            self.meters.add("base", now, base)
        for series in ("pv", "main"):
            value = site.meters.get(series)
            if value is not None:
                self.meters.add(series, now, value)

    def update(self, now: datetime, site: SiteReadings) -> None:
        """Record this tick; when a new interval has begun, hand a snapshot to the writer."""
        self.record(now, site)
        bucket = self.meters.bucket(now)
        if self.file is None or bucket == self._saved_bucket:
            return
        self._saved_bucket = bucket
        self.meters.prune(now)
        self._pending = self._snapshot(now)
        self._dirty.set()

    async def run_writer(self) -> None:
        """Long-lived task: writes snapshots off the control loop (a slow disk never
        delays a tick)."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self.write_pending()

    async def write_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None or self.file is None:
            return
        try:
            await asyncio.to_thread(self.file.write, *pending)
        except OSError as exc:
            self._write_failed(exc)
        else:
            self._write_ok()

    def flush(self, now: datetime) -> None:
        """Write now (shutdown); errors are logged, never raised."""
        if self.file is None:
            return
        data, seq = self._snapshot(now)
        try:
            self.file.write(data, seq)
        except OSError as exc:
            self._write_failed(exc)

    # -- forecasts -------------------------------------------------------------
    def with_forecasts(self, request: PlanRequest, site: SiteReadings) -> PlanRequest:
        """The request with base-load and PV forecasts from the history."""
        start = datetime.fromtimestamp(self.meters.bucket(request.now), UTC)
        n = FORECAST_HORIZON_S // request.interval_s
        base = self._forecast("base", start, n, site.base_kw) or request.base_load_forecast_kw
        pv = request.pv_forecast_kw
        if "pv" in self.cfg.meters:
            pv_meter = self._forecast("pv", start, n, site.meters.get("pv"))
            if pv_meter:
                pv = [max(0.0, -kw) for kw in pv_meter]  # meter: generation < 0; forecast > 0
        return dataclasses.replace(request, base_load_forecast_kw=base, pv_forecast_kw=pv)

    def _forecast(
        self, series: str, start: datetime, n: int, current_kw: float | None
    ) -> list[float]:
        # only completed intervals count, so the forecast changes once per interval
        cached = self._cache.get(series)
        if cached is None or cached[0] != start:
            tz = self.cfg.site.timezone
            weeks = self.meters.weeks
            cached = (
                start,
                forecast_kw(self.meters.samples(series), start, n, None, weeks=weeks, timezone=tz),
            )
            self._cache[series] = cached
        out = list(cached[1])
        if not out:
            return [current_kw] if current_kw is not None else []
        if current_kw is not None:
            out[0] = current_kw
        return out

    # -- persistence -----------------------------------------------------------
    def _snapshot(self, now: datetime) -> tuple[bytes, int]:
        self._seq += 1
        doc = {
            "version": FORMAT_VERSION,
            "site_id": self.cfg.site.id,
            "interval_s": self.meters.interval_s,
            "saved_at": now.isoformat(),
            "history": self.meters.export(),
            "demand": self.demand.export(),
        }
        return orjson.dumps(doc), self._seq

    def load(self, now: datetime) -> bool:
        """Restore history and demand from the state file; False (logged) if unusable."""
        assert self.file is not None
        try:
            raw = self.file.read()
        except OSError as exc:
            self.log.warning("state file unreadable, starting empty", error=str(exc))
            return False
        if raw is None:
            self.log.info("no state file yet, starting empty", path=str(self.file.path))
            return False
        try:
            doc = StateDoc.model_validate(orjson.loads(raw))
            if doc.site_id != self.cfg.site.id or doc.interval_s != self.meters.interval_s:
                raise ValueError(f"for site {doc.site_id!r}, interval {doc.interval_s} s")
        except (orjson.JSONDecodeError, ValidationError, ValueError) as exc:
            moved = self.file.move_aside()
            self.log.warning(
                "state file corrupt, ignored; starting empty",
                path=str(self.file.path),
                moved_to=str(moved) if moved else None,
                error=str(exc).splitlines()[0],
            )
            return False
        self.meters.restore(doc.history, now)
        self.demand.restore(doc.demand, now)
        self.log.info(
            "state restored",
            path=str(self.file.path),
            saved_at=doc.saved_at.isoformat() if doc.saved_at else None,
            intervals={s: len(r) for s, r in doc.history.items()},
        )
        return True

    def _write_failed(self, exc: OSError) -> None:
        if not self._save_failing:  # once until it works again
            self.log.warning("state file not written", path=str(self.file_path), error=str(exc))
            self._save_failing = True

    def _write_ok(self) -> None:
        if self._save_failing:
            self.log.info("state file written again", path=str(self.file_path))
            self._save_failing = False

    @property
    def file_path(self) -> Path | None:
        return self.file.path if self.file else None
