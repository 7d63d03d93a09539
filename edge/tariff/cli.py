"""``edge bill``: itemised monthly bills from a load series.

Input: a CSV with a timestamp column and a site power column (kW, import
positive), e.g. ``timestamp,power_kw`` or a scenario run's interval output
(``timestamp,site_power_kw,...``, docs/simulators.md). Timestamps are ISO 8601;
ones without an offset are taken as the tariff's local time.
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

from edge.tariff.bill import compute_bills, format_bill
from edge.tariff.loader import load_tariff
from evcommon.errors import EvsiteError

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge bill", description=__doc__.splitlines()[0])
    parser.add_argument("load", type=Path, help="CSV load series (timestamp, power_kw)")
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        tariff = load_tariff(args.tariff)
        if args.pdp_day:
            tariff = tariff.with_events(args.pdp_day)
        samples = read_load_csv(args.load, tariff.zone)
    except (EvsiteError, ValueError) as exc:
        print(f"edge bill: {exc}", file=sys.stderr)
        return 2
    bills = compute_bills(samples, tariff, interval_s=args.interval_s)
    if args.json:
        out = [
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
        print(json.dumps(out, indent=2))
    else:
        print(f"Tariff: {tariff.name}")
        for bill in bills:
            print(format_bill(bill))
            print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
