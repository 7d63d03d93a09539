"""The demo's report: bill with and without control, peaks by period, energy, a plot.

Pure functions over the run's record (:class:`RunRecord`, read from the
simulator's output by :mod:`simulators.demo.record`), so they are tested
without running anything.

The uncontrolled baseline is computed, not run: the same sessions, each vehicle
drawing its maximum power from plug-in until it has its requested energy or
leaves, on top of the run's own measured non-EV load (site minus EV power).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge.tariff.bill import MonthlyBill, compute_bills
from edge.tariff.model import Tariff


@dataclass(frozen=True)
class Interval:
    start: datetime  # aware UTC
    site_kw: float  # grid import at the main meter, average over the interval
    ev_kw: float  # all charging (incl. DCFC), average over the interval


@dataclass(frozen=True)
class Session:
    key: str  # station/connector or vehicle id
    arrival: datetime
    departure: datetime
    requested_kwh: float
    delivered_kwh: float
    max_kw: float
    finished: bool = True  # False: still plugged in when the run ended


@dataclass
class RunRecord:
    interval_s: int
    intervals: list[Interval]
    sessions: list[Session]
    source: str = ""


@dataclass
class StrategyResult:
    name: str
    total: float
    energy_cost: float
    demand_cost: float
    other_cost: float
    energy_kwh: float
    peaks_kw: dict[str, float]
    bill_text: str


@dataclass
class Report:
    site_id: str
    start: datetime
    end: datetime
    currency: str
    controlled: StrategyResult
    uncontrolled: StrategyResult
    baseline_method: str
    requested_kwh: float
    delivered_kwh: float
    sessions: int
    sessions_short: int  # left (or gave up) with less than requested
    sessions_at_end: int  # still plugged in when the run ended
    plot: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def savings(self) -> float:
        return self.uncontrolled.total - self.controlled.total


BASELINE_METHOD = (
    "uncontrolled baseline computed from the same sessions: each vehicle at its maximum power "
    "from plug-in until its requested energy or departure, plus the run's measured non-EV load"
)


def uncontrolled_intervals(record: RunRecord) -> list[Interval]:
    """The run's site load with its EV part replaced by uncontrolled charging."""
    step = timedelta(seconds=record.interval_s)
    ev_kw = [0.0] * len(record.intervals)
    if not record.intervals:
        return []
    t0 = record.intervals[0].start
    for s in record.sessions:
        remaining_kwh = s.requested_kwh
        first = max(0, int((s.arrival - t0) / step))
        for i in range(first, len(record.intervals)):
            lo = max(record.intervals[i].start, s.arrival)
            hi = min(record.intervals[i].start + step, s.departure)
            hours = (hi - lo).total_seconds() / 3600
            if hours <= 0:
                if record.intervals[i].start >= s.departure:
                    break
                continue
            kwh = min(remaining_kwh, s.max_kw * hours)
            ev_kw[i] += kwh / (record.interval_s / 3600)
            remaining_kwh -= kwh
            if remaining_kwh <= 1e-9:
                break
    return [
        Interval(iv.start, iv.site_kw - iv.ev_kw + ev, ev)
        for iv, ev in zip(record.intervals, ev_kw, strict=True)
    ]


def _result(
    name: str, intervals: list[Interval], interval_s: int, tariff: Tariff
) -> StrategyResult:
    bills: list[MonthlyBill] = compute_bills(
        [(iv.start, iv.site_kw) for iv in intervals], tariff, interval_s=interval_s
    )
    from edge.tariff.bill import format_bill

    energy = sum(b.subtotal("energy") + b.subtotal("pdp_energy") for b in bills)
    demand = sum(b.subtotal("demand") for b in bills)
    total = sum(b.total for b in bills)
    peaks: dict[str, float] = {}
    for bill in bills:
        for key, kw in bill.peaks_kw.items():
            peaks[key] = max(peaks.get(key, 0.0), kw)
    return StrategyResult(
        name=name,
        total=total,
        energy_cost=energy,
        demand_cost=demand,
        other_cost=round(total - energy - demand, 6) + 0.0,  # no "-0.00"
        energy_kwh=sum(b.energy_kwh for b in bills),
        peaks_kw=peaks,
        bill_text="\n\n".join(format_bill(b) for b in bills),
    )


def build_report(record: RunRecord, tariff: Tariff, site_id: str) -> Report:
    if not record.intervals:
        raise ValueError("the run recorded no site power intervals")
    baseline = uncontrolled_intervals(record)
    requested = sum(s.requested_kwh for s in record.sessions)
    delivered = sum(s.delivered_kwh for s in record.sessions)
    short = sum(
        1 for s in record.sessions if s.finished and s.delivered_kwh < s.requested_kwh - 0.1
    )
    return Report(
        site_id=site_id,
        start=record.intervals[0].start,
        end=record.intervals[-1].start + timedelta(seconds=record.interval_s),
        currency=tariff.currency,
        controlled=_result("controlled", record.intervals, record.interval_s, tariff),
        uncontrolled=_result("uncontrolled", baseline, record.interval_s, tariff),
        baseline_method=BASELINE_METHOD,
        requested_kwh=requested,
        delivered_kwh=delivered,
        sessions=len(record.sessions),
        sessions_short=short,
        sessions_at_end=sum(1 for s in record.sessions if not s.finished),
    )


def plot_load(
    record: RunRecord,
    report: Report,
    path: Path,
    import_limit_kw: float | None,
    zone: ZoneInfo | None = None,
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    baseline = uncontrolled_intervals(record)
    import matplotlib.dates as mdates

    tz = zone or ZoneInfo("UTC")
    # site local time on the axis (naive local datetimes: matplotlib shows them as given)
    times = mdates.date2num(
        [iv.start.astimezone(tz).replace(tzinfo=None) for iv in record.intervals]
    )
    fig, ax = plt.subplots(figsize=(11, 5))
    ax.plot(times, [iv.site_kw for iv in baseline], label="site, uncontrolled (computed)", lw=1)
    ax.plot(times, [iv.site_kw for iv in record.intervals], label="site, controlled (run)", lw=1.5)
    ax.plot(times, [iv.ev_kw for iv in record.intervals], label="EV charging (run)", lw=1)
    ax.plot(times, [iv.site_kw - iv.ev_kw for iv in record.intervals], label="non-EV load", lw=0.8)
    if import_limit_kw:
        ax.axhline(import_limit_kw, color="red", ls="--", lw=0.8, label="import limit")
    hours = (report.end - report.start).total_seconds() / 3600
    ax.set_ylabel("kW")
    ax.set_xlabel(f"site local time ({tz.key})")
    ax.set_title(
        f"{report.site_id}: site load from {report.start.astimezone(tz):%a %Y-%m-%d %H:%M %Z},"
        f" {hours:g} h"
    )
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    ax.xaxis_date()
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def format_report(report: Report) -> str:
    c, u, cur = report.controlled, report.uncontrolled, report.currency
    lines = [
        f"Report: {report.site_id}, {report.start:%Y-%m-%d %H:%M}"
        f" - {report.end:%Y-%m-%d %H:%M} UTC",
        "",
        f"Bill for this load ({cur}), as if it were the whole billing period:",
        f"  {'':<22} {'controlled':>12} {'uncontrolled':>13}",
        f"  {'energy':<22} {c.energy_cost:>12.2f} {u.energy_cost:>13.2f}",
        f"  {'demand':<22} {c.demand_cost:>12.2f} {u.demand_cost:>13.2f}",
        f"  {'other (PDP, fixed)':<22} {c.other_cost:>12.2f} {u.other_cost:>13.2f}",
        f"  {'TOTAL':<22} {c.total:>12.2f} {u.total:>13.2f}",
        f"  saving with control: {report.savings:.2f} {cur}",
        "",
        "Peak demand by period (15-minute average, kW):",
    ]
    for key in sorted(set(c.peaks_kw) | set(u.peaks_kw)):
        lines.append(
            f"  {key:<22} {c.peaks_kw.get(key, 0.0):>12.1f} {u.peaks_kw.get(key, 0.0):>13.1f}"
        )
    pct = 100 * report.delivered_kwh / report.requested_kwh if report.requested_kwh else 100.0
    lines += [
        "",
        f"Energy: delivered {report.delivered_kwh:.1f} kWh of {report.requested_kwh:.1f} kWh "
        f"requested ({pct:.1f} %); {report.sessions} sessions: "
        f"{report.sessions - report.sessions_at_end} left, {report.sessions_short} of them short,"
        f" {report.sessions_at_end} still plugged in at the end",
        f"Baseline: {report.baseline_method}.",
    ]
    lines += [f"Note: {n}" for n in report.notes]
    if report.plot:
        lines.append(f"Plot: {report.plot}")
    return "\n".join(lines)


def report_json(report: Report) -> dict[str, Any]:
    data = asdict(report)
    data["savings"] = report.savings
    return json.loads(json.dumps(data, default=str))
