"""Load and validate a scenario file into a :class:`ScenarioPlan`, before anything starts."""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from simulators.scenario.errors import ScenarioError
from simulators.scenario.model import GenerateEntry, Scenario, SessionEntry
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


class _Resolver:
    """Cross-checks of a parsed scenario; errors point at the TOML line."""

    def __init__(self, scenario: Scenario, path: Path, text: str):
        self.scenario, self.path, self.text = scenario, path, text
        self.station_types = {**BUILTIN_STATION_TYPES, **scenario.station_types}
        self.vehicle_types = {**BUILTIN_VEHICLE_TYPES, **scenario.vehicle_types}
        self.soc = {name: vt.arrival_soc_pct for name, vt in self.vehicle_types.items()}
        self.station_ids: set[str] = set()
        self.groups: set[str] = set()

    def fail(self, loc: tuple[str | int, ...], message: str) -> ScenarioError:
        return ScenarioError(self.path, find_line(self.text, loc), _dotted(loc), message)

    def ports(self) -> list[Port]:
        ports: list[Port] = []
        for i, entry in enumerate(self.scenario.stations):
            st = self.station_types.get(entry.type)
            if st is None:
                raise self.fail(("stations", i, "type"), f"unknown station type {entry.type!r}")
            power = st.max_power_kw or PRESET_POWER_KW[st.preset]
            for sid in entry.ids():
                if sid in self.station_ids:
                    raise self.fail(("stations", i, "id"), f"duplicate station id {sid!r}")
                self.station_ids.add(sid)
                for c in range(1, entry.connectors + 1):
                    ports.append(
                        Port(
                            sid,
                            c,
                            entry.type,
                            st.preset,
                            power,
                            entry.ocpp,
                            entry.group,
                            entry.node,
                        )
                    )
        self.groups = {p.group for p in ports if p.group}
        return ports

    def check_target(self, loc: tuple[str | int, ...], s: SessionEntry | GenerateEntry) -> None:
        station = getattr(s, "station", None)
        stype, group = s.station_type, s.group
        if sum(x is not None for x in (station, stype, group)) != 1:
            raise self.fail(loc, "give exactly one of station, station_type, group")
        if station is not None and station not in self.station_ids:
            raise self.fail((*loc, "station"), f"unknown station {station!r}")
        if stype is not None and stype not in self.station_types:
            raise self.fail((*loc, "station_type"), f"unknown station type {stype!r}")
        if group is not None and group not in self.groups:
            raise self.fail((*loc, "group"), f"unknown group {group!r}")

    def vehicle(self, loc: tuple[str | int, ...], name: str) -> None:
        if name not in self.vehicle_types:
            raise self.fail(loc, f"unknown vehicle type {name!r}")

    def explicit(self, i: int, e: SessionEntry) -> PlannedSession:
        self.check_target(("sessions", i), e)
        self.vehicle(("sessions", i, "vehicle"), e.vehicle)
        tz = self.scenario.scenario.tz
        arrival, departure = (_aware(t, tz) for t in (e.arrival, e.departure))
        if departure <= arrival:
            raise self.fail(("sessions", i, "departure"), "departure is not after arrival")
        soc = e.arrival_soc_pct if e.arrival_soc_pct is not None else self.soc[e.vehicle]
        return PlannedSession(
            session_id=e.session_id or f"session-{i + 1}",
            arrival=arrival,
            departure=departure,
            energy_kwh=e.energy_kwh,
            vehicle_type=e.vehicle,
            arrival_soc_pct=soc,
            station=e.station,
            station_type=e.station_type,
            group=e.group,
            source=f"{self.path}:{find_line(self.text, ('sessions', i))}",
        )

    def generated(self, i: int, g: GenerateEntry, plan: ScenarioPlan) -> list[PlannedSession]:
        self.check_target(("generate", i), g)
        for v in g.vehicles:
            self.vehicle(("generate", i, "vehicles"), v)
        src = f"{self.path}:{find_line(self.text, ('generate', i))}"
        info = self.scenario.scenario
        return generate_sessions(g, plan.start, plan.end, info.tz, info.seed, self.soc, src)

    def trondheim(self, plan: ScenarioPlan) -> list[PlannedSession]:
        t = self.scenario.trondheim
        assert t is not None
        self.vehicle(("trondheim", "vehicle"), t.vehicle)
        src_path = BUILTIN_TRONDHEIM if t.path == "builtin" else self.path.parent / t.path
        station_ids = list(dict.fromkeys(p.station_id for p in plan.ports))
        return read_trondheim(
            src_path, t.garage, station_ids, plan.start, plan.end, t.vehicle, self.soc[t.vehicle]
        )


def _resolve(scenario: Scenario, path: Path, text: str) -> ScenarioPlan:
    r = _Resolver(scenario, path, text)
    plan = ScenarioPlan(scenario, path, r.ports(), r.station_types, r.vehicle_types)
    sessions = [r.explicit(i, e) for i, e in enumerate(scenario.sessions)]
    for i, g in enumerate(scenario.generate):
        sessions += r.generated(i, g, plan)
    if scenario.sessions_csv is not None:
        sessions += _csv_sessions(plan, text, r.soc)
    if scenario.trondheim is not None:
        sessions += r.trondheim(plan)
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
