"""Scenarios for ``edge bench``: charging sessions plus the site's other load.

* ``garage``: the reference garage of docs/simulators.md (AlCoPark, LBNL report) for
  one summer month: 20 fleet L2 ports in four staged-window groups (vehicles back in
  the evening, out next morning), 16 public L2 ports used on weekdays, a 50 kW DC
  fast charger used a few times each afternoon, and a building base load. Generated
  from a fixed seed; the shape follows the report, the numbers are ours.
* ``trondheim``: the real residential sessions of Sørensen et al. 2021
  (simulators/data or /work/shared/data), every garage as one site, 7.2 kW ports.
Times are rounded to the 15-minute grid (arrival up, departure down).
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.planning import GroupWindow

STEP = timedelta(minutes=15)
FLEET_WINDOWS = {
    "fleet-1": time(21, 30),
    "fleet-2": time(23, 30),
    "fleet-3": time(1, 30),
    "fleet-4": time(3, 30),
}
TRONDHEIM_FILE = "norway_trondheim_residential_ev_sessions_sorensen2021.csv"
DATA_DIRS = [
    Path(__file__).resolve().parents[2] / "simulators" / "data",
    Path("/work/shared/data"),
]


@dataclass(frozen=True)
class Session:
    key: str
    group: str
    arrival: datetime  # aware UTC, on the grid
    departure: datetime
    energy_kwh: float  # what the vehicle takes (and what the driver asks for)
    max_power_kw: float
    known_ahead: bool = False  # fleet schedule: planned for before it arrives


@dataclass
class Scenario:
    name: str
    timezone: str
    start: datetime  # aware UTC
    days: int
    sessions: list[Session]
    base_kw: list[float]  # per interval from start
    dcfc_kw: list[float]
    import_limit_kw: float
    windows: list[GroupWindow] = field(default_factory=list)
    shed_groups: list[str] = field(default_factory=list)

    @property
    def n_steps(self) -> int:
        return self.days * 96


def _ceil(t: datetime) -> datetime:
    s = math.ceil(t.timestamp() / 900) * 900
    return datetime.fromtimestamp(s, tz=UTC)


def _floor(t: datetime) -> datetime:
    s = math.floor(t.timestamp() / 900) * 900
    return datetime.fromtimestamp(s, tz=UTC)


def garage(days: int = 30, seed: int = 2017, first_day: int = 1) -> Scenario:
    """July 2017 from ``first_day`` (July 1 is a Saturday)."""
    zone = ZoneInfo("America/Los_Angeles")
    rng = random.Random(seed)
    start = datetime(2017, 7, first_day, tzinfo=zone).astimezone(UTC)
    sessions: list[Session] = []
    n = days * 96
    base = [0.0] * n
    dcfc = [0.0] * n
    for d in range(days):
        day = (start + timedelta(days=d)).astimezone(zone).date()
        weekday = day.weekday() < 5
        at = lambda h, day=day: datetime.combine(day, time(0), zone) + timedelta(hours=h)  # noqa: E731
        for g, group in enumerate(FLEET_WINDOWS):
            for i in range(5):
                if not weekday and rng.random() < 0.7:
                    continue
                arr, dep = at(rng.uniform(16, 19.5)), at(24 + rng.uniform(6.5, 8))
                kwh = rng.uniform(8, 25)
                sessions.append(
                    Session(
                        f"L2-F{g + 1}-{i + 1:02d}@{day}",
                        group,
                        _ceil(arr),
                        _floor(dep),
                        kwh,
                        6.6,
                        True,
                    )
                )
        for i in range(16):
            if not weekday or rng.random() < 0.3:
                continue
            arr = at(rng.uniform(7.5, 10.5))
            dep = arr + timedelta(hours=rng.uniform(3, 9))
            sessions.append(
                Session(
                    f"L2-P-{i + 1:02d}@{day}",
                    "public",
                    _ceil(arr),
                    _floor(dep),
                    rng.uniform(4, 16),
                    6.6,
                )
            )
        for _ in range(rng.randint(1, 4) if weekday else rng.randint(0, 1)):
            t0 = int((at(rng.uniform(12, 19)) - start).total_seconds() // 900)
            for k in range(t0, min(n, t0 + rng.randint(2, 3))):
                dcfc[k] = rng.uniform(35, 48)
    for k in range(n):
        local = (start + k * STEP).astimezone(zone)
        busy = local.weekday() < 5 and 7 <= local.hour < 19
        base[k] = (45.0 if busy else 25.0) + rng.uniform(-3, 3)
    windows = [GroupWindow(g, t) for g, t in FLEET_WINDOWS.items()]
    end = start + timedelta(days=days)  # sessions must end inside the replay to be judged
    sessions = [s for s in sessions if s.arrival < s.departure <= end]
    return Scenario(
        "garage",
        "America/Los_Angeles",
        start,
        days,
        sessions,
        base,
        dcfc,
        110.0,
        windows,
        ["fleet-2", "fleet-3", "fleet-4"],
    )


def find_trondheim_csv() -> Path:
    for folder in DATA_DIRS:
        path = folder / TRONDHEIM_FILE
        if path.exists():
            return path
    raise FileNotFoundError(f"{TRONDHEIM_FILE} not found in {', '.join(map(str, DATA_DIRS))}")


def trondheim(days: int = 30, month: str = "2019-11", path: Path | None = None) -> Scenario:
    zone = ZoneInfo("Europe/Oslo")
    year, mon = (int(x) for x in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=zone).astimezone(UTC)
    end = start + timedelta(days=days)
    sessions = []
    with (path or find_trondheim_csv()).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            if "NA" in (row["End_plugout"], row["Start_plugin"], row["El_kWh"]):
                continue  # 34 rows have no plug-out time
            arr = datetime.strptime(row["Start_plugin"], "%d.%m.%Y %H:%M").replace(tzinfo=zone)
            dep = datetime.strptime(row["End_plugout"], "%d.%m.%Y %H:%M").replace(tzinfo=zone)
            arr_utc, dep_utc = _ceil(arr.astimezone(UTC)), _floor(dep.astimezone(UTC))
            kwh = float(row["El_kWh"].replace(",", "."))
            if not (start <= arr_utc < dep_utc <= end) or kwh <= 0:
                continue
            key = f"{row['Garage_ID']}/{row['User_ID']}#{row['session_ID']}"
            sessions.append(Session(key, "residential", arr_utc, dep_utc, kwh, 7.2))
    n = days * 96
    return Scenario(
        f"trondheim-{month}", "Europe/Oslo", start, days, sessions, [5.0] * n, [0.0] * n, 60.0
    )
