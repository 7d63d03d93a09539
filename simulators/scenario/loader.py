"""Load and validate a scenario file into a :class:`ScenarioPlan`, before anything starts."""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from simulators.scenario.errors import ScenarioError
from simulators.scenario.model import Scenario
from simulators.scenario.plan import (
    BUILTIN_STATION_TYPES,
    BUILTIN_VEHICLE_TYPES,
    PRESET_POWER_KW,
    PlannedSession,
    Port,
    ScenarioPlan,
)
from simulators.scenario.sessions import (
    BUILTIN_TRONDHEIM,
    generate_sessions,
    parse_time,
    read_sessions_csv,
    read_trondheim,
)
from simulators.scenario.tomlpos import find_line

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def resolve_scenario_path(name: str | Path) -> Path:
    """A path, or the name of a shipped scenario (``reference-garage``, ``trondheim``)."""
    path = Path(name)
    if path.is_file():
        return path
    builtin = BUILTIN_DIR / f"{name}.toml"
    if builtin.is_file():
        return builtin
    raise ScenarioError(path, None, None, "scenario file not found (nor a shipped scenario)")


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def load_scenario(name: str | Path) -> ScenarioPlan:
    path = resolve_scenario_path(name)
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, getattr(exc, "lineno", None), None, str(exc)) from None
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
        raise ScenarioError(path, find_line(text, loc), _dotted(loc), err["msg"]) from None
    return _resolve(scenario, path, text)


def _resolve(scenario: Scenario, path: Path, text: str) -> ScenarioPlan:
    def fail(loc: tuple[str | int, ...], message: str) -> ScenarioError:
        return ScenarioError(path, find_line(text, loc), _dotted(loc), message)

    station_types = {**BUILTIN_STATION_TYPES, **scenario.station_types}
    vehicle_types = {**BUILTIN_VEHICLE_TYPES, **scenario.vehicle_types}
    ports: list[Port] = []
    seen: set[str] = set()
    for i, entry in enumerate(scenario.stations):
        st = station_types.get(entry.type)
        if st is None:
            raise fail(("stations", i, "type"), f"unknown station type {entry.type!r}")
        for sid in entry.ids():
            if sid in seen:
                raise fail(("stations", i, "id"), f"duplicate station id {sid!r}")
            seen.add(sid)
            for c in range(1, entry.connectors + 1):
                power = st.max_power_kw or PRESET_POWER_KW[st.preset]
                ports.append(
                    Port(sid, c, entry.type, st.preset, power, entry.ocpp, entry.group, entry.node)
                )
    plan = ScenarioPlan(scenario, path, ports, station_types, vehicle_types)
    groups = {p.group for p in ports if p.group}
    soc = {name: vt.arrival_soc_pct for name, vt in vehicle_types.items()}
    tz = scenario.scenario.tz

    def check_target(loc: tuple[str | int, ...], s: object) -> None:
        station = getattr(s, "station", None)
        stype = getattr(s, "station_type", None)
        group = getattr(s, "group", None)
        if sum(x is not None for x in (station, stype, group)) != 1:
            raise fail(loc, "give exactly one of station, station_type, group")
        if station is not None and station not in seen:
            raise fail((*loc, "station"), f"unknown station {station!r}")
        if stype is not None and stype not in station_types:
            raise fail((*loc, "station_type"), f"unknown station type {stype!r}")
        if group is not None and group not in groups:
            raise fail((*loc, "group"), f"unknown group {group!r}")

    sessions: list[PlannedSession] = []
    for i, e in enumerate(scenario.sessions):
        check_target(("sessions", i), e)
        if e.vehicle not in vehicle_types:
            raise fail(("sessions", i, "vehicle"), f"unknown vehicle type {e.vehicle!r}")
        arrival, departure = (_aware(t, tz) for t in (e.arrival, e.departure))
        if departure <= arrival:
            raise fail(("sessions", i, "departure"), "departure is not after arrival")
        sessions.append(
            PlannedSession(
                session_id=e.session_id or f"session-{i + 1}",
                arrival=arrival,
                departure=departure,
                energy_kwh=e.energy_kwh,
                vehicle_type=e.vehicle,
                arrival_soc_pct=e.arrival_soc_pct
                if e.arrival_soc_pct is not None
                else soc[e.vehicle],
                station=e.station,
                station_type=e.station_type,
                group=e.group,
                source=f"{path}:{find_line(text, ('sessions', i))}",
            )
        )
    for i, g in enumerate(scenario.generate):
        check_target(("generate", i), g)
        for v in g.vehicles:
            if v not in vehicle_types:
                raise fail(("generate", i, "vehicles"), f"unknown vehicle type {v!r}")
        src = f"{path}:{find_line(text, ('generate', i))}"
        sessions += generate_sessions(g, plan.start, plan.end, tz, scenario.scenario.seed, soc, src)
    if scenario.sessions_csv is not None:
        sessions += _csv_sessions(plan, text, soc)
    if scenario.trondheim is not None:
        t = scenario.trondheim
        if t.vehicle not in vehicle_types:
            raise fail(("trondheim", "vehicle"), f"unknown vehicle type {t.vehicle!r}")
        src_path = BUILTIN_TRONDHEIM if t.path == "builtin" else path.parent / t.path
        station_ids = list(dict.fromkeys(p.station_id for p in ports))
        sessions += read_trondheim(
            src_path, t.garage, station_ids, plan.start, plan.end, t.vehicle, soc[t.vehicle]
        )
    plan.sessions = sorted(sessions, key=lambda s: (s.arrival, s.session_id))
    return plan


def _csv_sessions(plan: ScenarioPlan, text: str, soc: dict[str, float]) -> list[PlannedSession]:
    src = plan.scenario.sessions_csv
    path = plan.path
    assert src is not None
    if src.vehicle not in plan.vehicle_types:
        raise ScenarioError(
            path,
            find_line(text, ("sessions_csv", "vehicle")),
            "sessions_csv.vehicle",
            f"unknown vehicle type {src.vehicle!r}",
        )
    csv_path = path.parent / src.path
    rows = read_sessions_csv(csv_path, plan.scenario.scenario.tz, src.vehicle, soc)
    groups = {p.group for p in plan.ports if p.group}
    stations = {p.station_id for p in plan.ports}
    for s in rows:
        line = int(s.source.rsplit(":", 1)[1])
        checks = (
            ("station", s.station, stations, "station"),
            ("station_type", s.station_type, plan.station_types, "station type"),
            ("group", s.group, groups, "group"),
        )
        for field, value, known, what in checks:
            if value is not None and value not in known:
                raise ScenarioError(csv_path, line, field, f"unknown {what} {value!r}")
        if s.vehicle_type not in plan.vehicle_types:
            raise ScenarioError(
                csv_path, line, "vehicle", f"unknown vehicle type {s.vehicle_type!r}"
            )
        if s.departure <= s.arrival:
            raise ScenarioError(csv_path, line, "departure", "departure is not after arrival")
    return rows


def _aware(t: datetime, tz: ZoneInfo) -> datetime:
    return parse_time(t.isoformat(), tz)
