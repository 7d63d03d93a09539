"""Read a scenario run's record (``evsim run --out``) and turn it into the demo report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simulators.demo.report import (
    Interval,
    RunRecord,
    Session,
    build_report,
    format_report,
    plot_load,
    report_json,
)


class RecordError(ValueError):
    """The run record is missing or cannot be read."""


def _time(value: Any, where: str) -> datetime:
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise RecordError(f"{where}: bad time {value!r}") from exc
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _first(row: dict[str, Any], names: tuple[str, ...], where: str) -> Any:
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    raise RecordError(f"{where}: none of {', '.join(names)}")


def read_record(path: Path) -> RunRecord:
    """Read an ``evsim-run/1`` file (simulators.scenario.output, docs/simulators.md)."""
    from simulators.scenario.output import read_run_output

    if not path.exists():
        raise RecordError(f"{path}: the simulator wrote no record")
    try:
        data = read_run_output(path)
    except ValueError as exc:
        raise RecordError(str(exc)) from exc
    end = _time(data["end"], f"{path}: end")  # the runner may record a little past it
    intervals = [
        Interval(
            start=_time(_first(r, ("start",), f"{path}: intervals[{i}]"), str(path)),
            site_kw=float(_first(r, ("site_kw",), f"{path}: intervals[{i}]")),
            ev_kw=float(_first(r, ("ev_kw",), f"{path}: intervals[{i}]")),
        )
        for i, r in enumerate(data["intervals"])
        if float(r.get("covered_s", 1.0)) > 0 and _time(r["start"], str(path)) < end
    ]
    sessions = []
    for i, s in enumerate(data.get("sessions", [])):
        where = f"{path}: sessions[{i}]"
        if s.get("status") == "no_free_port" or s.get("max_power_kw") is None:
            continue  # never plugged in: in neither strategy
        arrival = s.get("plugged_in_at") or _first(s, ("arrival",), where)
        departure = s.get("unplugged_at") or _first(s, ("departure",), where)
        sessions.append(
            Session(
                key=str(s.get("station_id") or s.get("vehicle_id") or i),
                arrival=_time(arrival, where),
                departure=_time(departure, where),
                requested_kwh=float(_first(s, ("energy_requested_kwh",), where)),
                delivered_kwh=float(_first(s, ("energy_delivered_kwh",), where)),
                max_kw=float(s["max_power_kw"]),
                finished=s.get("status") != "plugged_at_end",
            )
        )
    return RunRecord(int(data.get("interval_s", 60)), intervals, sessions, source=str(path))


def make_report(record_path: Path, site_config: Path, out_dir: Path) -> str:
    """Build, write (report.txt, report.json, site-load.png) and return the report text."""
    from edge.config import load_site_config
    from edge.tariff.loader import load_tariff

    cfg = load_site_config(site_config)
    tariff = load_tariff(str(cfg.site.tariff or "pge-e19"))
    record = read_record(record_path)
    report = build_report(record, tariff, cfg.site.id)
    report.plot = str(
        plot_load(
            record, report, out_dir / "site-load.png", cfg.site.import_limit_kw, cfg.site.zone
        )
    )
    text = format_report(report)
    (out_dir / "report.txt").write_text(text + "\n")
    (out_dir / "report.json").write_text(json.dumps(report_json(report), indent=2) + "\n")
    return text
