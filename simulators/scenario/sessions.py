"""Sessions from the scenario file, from a sessions CSV, generated, or replayed from Trondheim.

Every error names the file, the line and the field (:class:`ScenarioError`).
"""

from __future__ import annotations

import csv
import math
import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from simulators.scenario.errors import ScenarioError
from simulators.scenario.model import GenerateEntry
from simulators.scenario.plan import PlannedSession

CSV_REQUIRED = ("arrival", "departure", "energy_kwh")
CSV_TARGETS = ("station", "station_type", "group")
CSV_OPTIONAL = ("session_id", "vehicle", "arrival_soc_pct")
TRONDHEIM_COLUMNS = ("session_ID", "Garage_ID", "User_ID", "Start_plugin", "End_plugout", "El_kWh")
BUILTIN_TRONDHEIM = (
    Path(__file__).resolve().parent.parent
    / "data"
    / "norway_trondheim_residential_ev_sessions_sorensen2021.csv"
)


def parse_time(value: str, tz: ZoneInfo) -> datetime:
    """ISO 8601; a time without offset is local time in ``tz``. Returns aware UTC."""
    dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(UTC)


def _float(value: str, path: Path, line: int, name: str, decimal_comma: bool = False) -> float:
    try:
        out = float(value.strip().replace(",", ".") if decimal_comma else value.strip())
    except ValueError:
        raise ScenarioError(path, line, name, f"not a number: {value!r}") from None
    if not math.isfinite(out) or out < 0:
        raise ScenarioError(path, line, name, f"must be a finite number >= 0, got {value!r}")
    return out


def read_sessions_csv(
    path: Path, tz: ZoneInfo, default_vehicle: str, default_soc: dict[str, float]
) -> list[PlannedSession]:
    if not path.is_file():
        raise ScenarioError(path, None, None, "sessions CSV not found")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        for col in CSV_REQUIRED:
            if col not in header:
                raise ScenarioError(path, 1, col, "missing column")
        if not any(t in header for t in CSV_TARGETS):
            raise ScenarioError(
                path,
                1,
                "station",
                "missing column: one of station, station_type or group is needed",
            )
        unknown = [h for h in header if h not in (*CSV_REQUIRED, *CSV_TARGETS, *CSV_OPTIONAL)]
        if unknown:
            raise ScenarioError(path, 1, unknown[0], "unknown column")
        return [
            _csv_row(row, path, reader.line_num, tz, default_vehicle, default_soc) for row in reader
        ]


def _csv_row(
    row: dict[str, str],
    path: Path,
    line: int,
    tz: ZoneInfo,
    default_vehicle: str,
    default_soc: dict[str, float],
) -> PlannedSession:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    for name in CSV_REQUIRED:
        if not cell(name):
            raise ScenarioError(path, line, name, "empty value")
    times: dict[str, datetime] = {}
    for name in ("arrival", "departure"):
        try:
            times[name] = parse_time(cell(name), tz)
        except ValueError:
            raise ScenarioError(path, line, name, f"not an ISO 8601 time: {cell(name)!r}") from None
    targets = {t: cell(t) or None for t in CSV_TARGETS}
    if sum(v is not None for v in targets.values()) != 1:
        raise ScenarioError(
            path, line, "station", "give exactly one of station, station_type, group"
        )
    vehicle = cell("vehicle") or default_vehicle
    soc = (
        _float(cell("arrival_soc_pct"), path, line, "arrival_soc_pct")
        if cell("arrival_soc_pct")
        else default_soc.get(vehicle, 30.0)
    )
    return PlannedSession(
        session_id=cell("session_id") or f"{path.stem}-{line}",
        arrival=times["arrival"],
        departure=times["departure"],
        energy_kwh=_float(cell("energy_kwh"), path, line, "energy_kwh"),
        vehicle_type=vehicle,
        arrival_soc_pct=soc,
        station=targets["station"],
        station_type=targets["station_type"],
        group=targets["group"],
        source=f"{path}:{line}",
    )


def generate_sessions(
    gen: GenerateEntry,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    seed: int,
    default_soc: dict[str, float],
    source: str,
) -> list[PlannedSession]:
    """Sessions of one ``[[generate]]`` block for every local day touching [start - 1 d, end)."""
    out: list[PlannedSession] = []
    day = (start.astimezone(tz) - timedelta(days=1)).date()
    last = end.astimezone(tz).date()
    while day <= last:
        if gen.days == "all" or (gen.days == "weekdays") == (day.weekday() < 5):
            out.extend(_generate_day(gen, day, tz, seed, default_soc, source))
        day += timedelta(days=1)
    return [s for s in out if s.departure > start and s.arrival < end]


def _local(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    hh, mm = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(hh, mm), tzinfo=tz)


def _generate_day(
    gen: GenerateEntry,
    day: date,
    tz: ZoneInfo,
    seed: int,
    default_soc: dict[str, float],
    source: str,
) -> list[PlannedSession]:
    out = []
    for k in range(gen.count):
        rng = random.Random(f"{seed}:{gen.name}:{day.isoformat()}:{k}")
        arrival = _local(day, gen.arrival, tz) + timedelta(minutes=rng.gauss(0, gen.arrival_sd_min))
        if gen.departure is not None:
            dep_day = day + timedelta(days=1) if gen.departure <= gen.arrival else day
            departure = _local(dep_day, gen.departure, tz) + timedelta(
                minutes=rng.gauss(0, gen.departure_sd_min)
            )
        else:
            stay_min = rng.gauss(gen.stay_min or 0.0, gen.stay_sd_min)
            departure = arrival + timedelta(minutes=stay_min)
        departure = max(departure, arrival + timedelta(minutes=gen.min_stay_min))
        energy_kwh = max(0.5, rng.gauss(gen.energy_kwh, gen.energy_sd_kwh))
        vehicle = rng.choice(gen.vehicles)
        out.append(
            PlannedSession(
                session_id=f"{gen.name}-{day:%Y%m%d}-{k + 1:02d}",
                arrival=arrival.astimezone(UTC).replace(microsecond=0),
                departure=departure.astimezone(UTC).replace(microsecond=0),
                energy_kwh=round(energy_kwh, 3),
                vehicle_type=vehicle,
                arrival_soc_pct=default_soc.get(vehicle, 30.0),
                station_type=gen.station_type,
                group=gen.group,
                source=source,
            )
        )
    return out


def _trondheim_rows(path: Path, garage: str) -> list[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise ScenarioError(path, None, None, "Trondheim sessions file not found")
    rows: list[tuple[int, dict[str, str]]] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f, delimiter=";")
        for col in TRONDHEIM_COLUMNS:
            if col not in (reader.fieldnames or []):
                raise ScenarioError(path, 1, col, "missing column")
        for row in reader:
            if row["Garage_ID"] == garage:
                rows.append((reader.line_num, row))
    return rows


def read_trondheim(
    path: Path,
    garage: str,
    stations: list[str],
    start: datetime,
    end: datetime,
    vehicle: str,
    soc_pct: float,
) -> list[PlannedSession]:
    """Sessions of one garage overlapping [start, end); user i (ids sorted) -> stations[i].

    Rows without a plug-out time (34 in the data set) are skipped: they have no departure.
    """
    oslo = ZoneInfo("Europe/Oslo")
    rows = _trondheim_rows(path, garage)
    users = sorted({r["User_ID"] for _, r in rows})
    if not users:
        raise ScenarioError(path, None, "Garage_ID", f"no sessions for garage {garage!r}")
    if len(users) > len(stations):
        raise ScenarioError(
            path,
            None,
            "User_ID",
            f"garage {garage!r} has {len(users)} users but the scenario lists "
            f"{len(stations)} stations",
        )
    station_of = dict(zip(users, stations, strict=False))
    out = []
    for line, row in rows:
        if row["End_plugout"] in ("", "NA"):
            continue
        try:
            arrival = datetime.strptime(row["Start_plugin"], "%d.%m.%Y %H:%M")
            departure = datetime.strptime(row["End_plugout"], "%d.%m.%Y %H:%M")
        except ValueError as exc:
            raise ScenarioError(path, line, "Start_plugin", str(exc)) from None
        a = arrival.replace(tzinfo=oslo).astimezone(UTC)
        d = departure.replace(tzinfo=oslo).astimezone(UTC)
        if d <= a or d <= start or a >= end:
            continue
        out.append(
            PlannedSession(
                session_id=f"trd-{row['session_ID']}",
                arrival=a,
                departure=d,
                energy_kwh=_float(row["El_kWh"], path, line, "El_kWh", decimal_comma=True),
                vehicle_type=vehicle,
                arrival_soc_pct=soc_pct,
                station=station_of[row["User_ID"]],
                source=f"{path}:{line}",
            )
        )
    return out
