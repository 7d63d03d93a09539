"""Itemised bills from a site load series under a :class:`Tariff`.

The series is site power at the meter (import positive, export negative), one
average value per interval. Energy is charged per sample at the price of the
sample's local period; demand is the highest average over the tariff's demand
interval (15 minutes for E-19) among the intervals that fall in a charge's
periods. A billing period that spans a season change bills each season's
demand charges on that season's own peak, pro rata by days (PG&E practice).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from edge.tariff.model import Tariff


@dataclass(frozen=True)
class BillLine:
    kind: str  # energy | demand | pdp_energy | pdp_credit | export
    name: str  # period or demand-charge name
    season: str
    quantity: float  # kWh or kW
    unit: str
    rate: float
    amount: float  # in the tariff's currency; credits and revenue negative


@dataclass
class MonthlyBill:
    start: date  # first local day of the billing period
    end: date  # first local day of the next one
    currency: str
    lines: list[BillLine] = field(default_factory=list)
    peaks_kw: dict[str, float] = field(default_factory=dict)  # "season/charge" -> kW
    energy_kwh: float = 0.0

    @property
    def total(self) -> float:
        return sum(line.amount for line in self.lines)

    def subtotal(self, kind: str) -> float:
        return sum(line.amount for line in self.lines if line.kind == kind)


def infer_interval_s(times: Sequence[datetime]) -> int:
    if len(times) < 2:
        return 900
    steps = sorted(int((b - a).total_seconds()) for a, b in itertools.pairwise(times))
    return max(1, steps[len(steps) // 2])


def _next_billing_start(tariff: Tariff, start: date) -> date:
    month = start.month % 12 + 1
    year = start.year + (start.month == 12)
    return date(year, month, tariff.billing_day)


@dataclass
class _Month:
    energy: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    export_kwh: dict[tuple[str, float], float] = field(default_factory=lambda: defaultdict(float))
    demand_kwh: dict[datetime, float] = field(default_factory=lambda: defaultdict(float))
    pdp_kwh: float = 0.0


def compute_bills(
    samples: Iterable[tuple[datetime, float]],
    tariff: Tariff,
    *,
    interval_s: int | None = None,
) -> list[MonthlyBill]:
    """One bill per billing period touched by ``samples`` (aware time, average kW)."""
    series = sorted(samples, key=lambda s: s[0])
    if not series:
        return []
    step_s = interval_s or infer_interval_s([t for t, _ in series])
    step_h = step_s / 3600.0
    demand_s = tariff.demand_interval_min * 60
    crl_kw = tariff.pdp.capacity_reservation_kw if tariff.pdp else 0.0
    months: dict[date, _Month] = defaultdict(_Month)
    for when, power_kw in series:
        month = months[tariff.billing_month(when)]
        season, period = tariff.classify(when)
        if power_kw >= 0:
            month.energy[(season, period)] += power_kw * step_h
        else:
            month.export_kwh[(period, tariff.export_price(when))] += -power_kw * step_h
        if step_s >= demand_s:  # coarse data: each sample is its own demand interval
            month.demand_kwh[when] += power_kw * demand_s / 3600.0
        else:
            slot = datetime.fromtimestamp(when.timestamp() // demand_s * demand_s, tz=when.tzinfo)
            month.demand_kwh[slot] += power_kw * step_h
        if tariff.pdp is not None and tariff.pdp.in_event(tariff.local(when)):
            month.pdp_kwh += max(power_kw - crl_kw, 0.0) * step_h
    return [_bill(tariff, start, months[start], demand_s) for start in sorted(months)]


def _bill(tariff: Tariff, start: date, month: _Month, demand_s: int) -> MonthlyBill:
    end = _next_billing_start(tariff, start)
    bill = MonthlyBill(start=start, end=end, currency=tariff.currency)
    for (season, period), kwh in sorted(month.energy.items()):
        rate = tariff.energy[season][period]
        bill.lines.append(BillLine("energy", period, season, kwh, "kWh", rate, kwh * rate))
        bill.energy_kwh += kwh
    for (period, rate), kwh in sorted(month.export_kwh.items()):
        if kwh > 0:
            bill.lines.append(BillLine("export", period, "", kwh, "kWh", rate, -kwh * rate))
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    season_days: dict[str, int] = defaultdict(int)
    for day in days:
        season_days[tariff.season_on(day)] += 1
    peaks: dict[tuple[str, str], float] = defaultdict(float)
    for slot, kwh in month.demand_kwh.items():
        demand_kw = kwh / (demand_s / 3600.0)
        season = tariff.classify(slot)[0]
        for charge in tariff.demand_charges(slot):
            key = (season, charge.name)
            peaks[key] = max(peaks[key], demand_kw)
    for charge in tariff.demand:
        seasons = [charge.season] if charge.season else list(season_days)
        for season in seasons:
            if season not in season_days:
                continue
            share = season_days[season] / len(days)
            peak_kw = peaks.get((season, charge.name), 0.0)
            bill.peaks_kw[f"{season}/{charge.name}"] = peak_kw
            rate = charge.rate_per_kw * share
            bill.lines.append(
                BillLine("demand", charge.name, season, peak_kw, "kW", rate, peak_kw * rate)
            )
    _pdp_lines(tariff, bill, month, peaks, season_days, len(days))
    return bill


def _pdp_lines(
    tariff: Tariff,
    bill: MonthlyBill,
    month: _Month,
    peaks: dict[tuple[str, str], float],
    season_days: dict[str, int],
    n_days: int,
) -> None:
    pdp = tariff.pdp
    if pdp is None or not pdp.enrolled:
        return
    if month.pdp_kwh > 0:
        amount = month.pdp_kwh * pdp.adder_per_kwh
        bill.lines.append(
            BillLine("pdp_energy", "event", "", month.pdp_kwh, "kWh", pdp.adder_per_kwh, amount)
        )
    for season, count in season_days.items():
        if pdp.seasons and season not in pdp.seasons:
            continue
        for name, credit in pdp.credit_per_kw.items():
            above_kw = max(peaks.get((season, name), 0.0) - pdp.capacity_reservation_kw, 0.0)
            if above_kw > 0 and credit > 0:
                rate = credit * count / n_days
                bill.lines.append(
                    BillLine("pdp_credit", name, season, above_kw, "kW", rate, -above_kw * rate)
                )


def format_bill(bill: MonthlyBill) -> str:
    head = f"Bill {bill.start.isoformat()} .. {bill.end.isoformat()} ({bill.currency})"
    rows = [head, "-" * len(head)]
    for line in bill.lines:
        label = f"{line.kind:<10} {line.season + '/' if line.season else ''}{line.name}"
        rows.append(
            f"  {label:<34} {line.quantity:>12.2f} {line.unit:<3} x {line.rate:>9.5f}"
            f" = {line.amount:>11.2f}"
        )
    for kind in ("energy", "demand", "pdp_energy", "pdp_credit", "export"):
        sub = bill.subtotal(kind)
        if sub:
            rows.append(f"  subtotal {kind:<25} {sub:>43.2f}")
    rows.append(f"  TOTAL {'':<28} {bill.total:>43.2f}")
    return "\n".join(rows)


def month_to_date_peaks(
    samples: Iterable[tuple[datetime, float]], tariff: Tariff, now: datetime
) -> dict[str, float]:
    """Demand-charge name -> highest demand so far in the billing period containing ``now``
    (what PlanRequest.month_peak_kw wants; LBNL eq. 11). Samples are per-interval
    averages at the demand interval or finer."""
    month = tariff.billing_month(now)
    recent = [(t, p) for t, p in samples if t <= now and tariff.billing_month(t) == month]
    if not recent:
        return {}
    (bill,) = compute_bills(recent, tariff)
    season = tariff.classify(now)[0]
    prefix = f"{season}/"
    return {k.removeprefix(prefix): v for k, v in bill.peaks_kw.items() if k.startswith(prefix)}
