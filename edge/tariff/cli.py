"""``edge bill``: itemised monthly bills from a load series.

Input: a scenario run file (``evsim-run/1`` JSON, docs/simulators.md: its 1-minute
``site_kw`` intervals), or a CSV with a timestamp column and a site power column
(kW, import positive), e.g. ``timestamp,power_kw``. CSV timestamps are ISO 8601;
ones without an offset are taken as the tariff's local time. Several files are
billed side by side ("with and without control").
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.tariff.bill import MonthlyBill, compute_bills, format_bill
from edge.tariff.loader import load_tariff
from evcommon.errors import EvsiteError

RUN_FORMAT = "evsim-run/1"
TIME_COLUMNS = ("timestamp", "time", "ts", "interval_start", "start")
POWER_COLUMNS = ("power_kw", "site_power_kw", "site_kw", "grid_kw", "import_kw", "main_kw")


class LoadFileError(EvsiteError):
    """The load series file cannot be read."""


def _pick(header: Sequence[str], names: Sequence[str], what: str, path: Path) -> str:
    lowered = {h.strip().lower(): h for h in header}
    for name in names:
        if name in lowered:
            return lowered[name]
    raise LoadFileError(f"{path}: no {what} column (looked for {', '.join(names)})")


def read_load_csv(path: Path, zone: ZoneInfo) -> list[tuple[datetime, float]]:
    """Read (aware time, kW) samples; a bad row is an error naming its line."""
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            time_col = _pick(header, TIME_COLUMNS, "timestamp", path)
            power_col = _pick(header, POWER_COLUMNS, "power", path)
            samples = []
            for lineno, row in enumerate(reader, start=2):
                try:
                    when = datetime.fromisoformat(row[time_col].strip())
                    power_kw = float(row[power_col])
                except (ValueError, TypeError, AttributeError) as exc:
                    raise LoadFileError(f"{path}:{lineno}: {exc}") from exc
                samples.append((when if when.tzinfo else when.replace(tzinfo=zone), power_kw))
    except FileNotFoundError as exc:
        raise LoadFileError(f"{path}: file not found") from exc
    return samples


def read_run_json(path: Path) -> list[tuple[datetime, float]]:
    """The main-meter series of a scenario run; partly covered bins count as zero."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise LoadFileError(f"{path}: file not found") from exc
    except json.JSONDecodeError as exc:
        raise LoadFileError(f"{path}: not JSON: {exc}") from exc
    if data.get("format") != RUN_FORMAT:
        raise LoadFileError(f"{path}: not an {RUN_FORMAT} file (format={data.get('format')!r})")
    interval_s = float(data.get("interval_s", 60))
    samples = []
    for i, row in enumerate(data.get("intervals", [])):
        try:
            when = datetime.fromisoformat(row["start"])
            power_kw = float(row["site_kw"]) * float(row.get("covered_s", interval_s)) / interval_s
        except (KeyError, ValueError, TypeError) as exc:
            raise LoadFileError(f"{path}: intervals[{i}]: {exc}") from exc
        samples.append((when, power_kw))
    return samples


def read_load(path: Path, zone: ZoneInfo) -> list[tuple[datetime, float]]:
    return read_run_json(path) if path.suffix == ".json" else read_load_csv(path, zone)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge bill", description=__doc__.splitlines()[0])
    parser.add_argument(
        "load", type=Path, nargs="+", help="scenario run JSON or CSV (timestamp, power_kw)"
    )
    parser.add_argument("--tariff", default="pge-e19", help="tariff TOML path or built-in name")
    parser.add_argument(
        "--pdp-day",
        action="append",
        default=[],
        type=date.fromisoformat,
        help="peak-day pricing event day (local date), repeatable",
    )
    parser.add_argument("--interval-s", type=int, help="sample interval (default: inferred)")
    parser.add_argument("--json", action="store_true", help="print the bills as JSON")
    return parser


def _json_bills(bills: list[MonthlyBill]) -> list[dict[str, object]]:
    return [
        {
            "start": b.start.isoformat(),
            "end": b.end.isoformat(),
            "currency": b.currency,
            "total": round(b.total, 2),
            "peaks_kw": b.peaks_kw,
            "lines": [line.__dict__ for line in b.lines],
        }
        for b in bills
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        tariff = load_tariff(args.tariff)
        if args.pdp_day:
            tariff = tariff.with_events(args.pdp_day)
        loads = {path: read_load(path, tariff.zone) for path in args.load}
    except (EvsiteError, ValueError) as exc:
        print(f"edge bill: {exc}", file=sys.stderr)
        return 2
    results = {
        path: compute_bills(s, tariff, interval_s=args.interval_s) for path, s in loads.items()
    }
    if args.json:
        print(json.dumps({str(p): _json_bills(b) for p, b in results.items()}, indent=2))
        return 0
    print(f"Tariff: {tariff.name}")
    for path, bills in results.items():
        print(f"\n# {path}")
        for bill in bills:
            print(format_bill(bill))
    if len(results) > 1:
        print("\nComparison (total per file):")
        for path, bills in results.items():
            parts = "  ".join(
                f"{k} {sum(b.subtotal(k) for b in bills):.2f}" for k in ("energy", "demand")
            )
            print(f"  {sum(b.total for b in bills):>12.2f}  {parts}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
