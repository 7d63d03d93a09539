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
    if not path.exists():
        raise RecordError(f"{path}: the simulator wrote no record")
    data = json.loads(path.read_text())
    rows = data["intervals"]
    intervals = [
        Interval(
            start=_time(
                _first(r, ("start", "ts", "timestamp"), f"{path}: intervals[{i}]"), str(path)
            ),
            site_kw=float(_first(r, ("site_power_kw", "site_kw"), f"{path}: intervals[{i}]")),
            ev_kw=float(_first(r, ("ev_power_kw", "ev_kw"), f"{path}: intervals[{i}]")),
        )
        for i, r in enumerate(rows)
    ]
    sessions = [
        Session(
            key=str(_first(s, ("station_id", "key", "vehicle_id"), f"{path}: sessions[{i}]")),
            arrival=_time(_first(s, ("arrival",), f"{path}: sessions[{i}]"), str(path)),
            departure=_time(_first(s, ("departure",), f"{path}: sessions[{i}]"), str(path)),
            requested_kwh=float(_first(s, ("requested_kwh", "energy_requested_kwh"), str(path))),
            delivered_kwh=float(_first(s, ("delivered_kwh", "energy_delivered_kwh"), str(path))),
            max_kw=float(_first(s, ("max_power_kw", "max_kw"), f"{path}: sessions[{i}]")),
        )
        for i, s in enumerate(data.get("sessions", []))
    ]
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
        plot_load(record, report, out_dir / "site-load.png", cfg.site.import_limit_kw)
    )
    text = format_report(report)
    (out_dir / "report.txt").write_text(text + "\n")
    (out_dir / "report.json").write_text(json.dumps(report_json(report), indent=2) + "\n")
    return text
