"""``edge bench --compare-real``: the network-free replay against the real components.

(a) runs the reference garage through the real components with the demo machinery
(simulators/demo: mosquitto, ``csms serve``, ``edge run``, ``evsim run`` on one SimClock),
with the edge's strategy set to one planner (``EDGE_OPTIMIZER__STRATEGY``); (b) replays
the *same* sessions (taken from the real run's record: plug-in and plug-out times,
requested energy, maximum power, group) on the run's own non-EV and DCFC load through
the same planner with :func:`edge.optimizer.replay.replay`; and prints both side by side
with a PASS/FAIL line. The default planner is ``staged``: the LBNL rules as a plan, which
the daemon's rules (edge/rules: windows, DCFC shed, floor) then leave unchanged, so both
paths implement the same behaviour. Residual differences: docs/optimizer.md.

The simulators are imported only here, inside functions: the edge daemon never needs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.optimizer.config import OptimizerSection
from edge.optimizer.registry import PLANNERS
from edge.optimizer.replay import ReplayResult, replay
from edge.optimizer.scenarios import Scenario, Session
from edge.planning import GroupWindow
from edge.tariff.bill import compute_bills
from edge.tariff.model import Tariff

STEP_S = 900
# Peaks and bills skip the first quarter hour: at the start every car already there plugs
# in at once while the edge holds its safe limits until its first meter readings.
WARMUP_STEPS = 1


# Real seconds from the edge's decision to the simulated vehicle drawing the new power
# (MQTT -> CSMS -> SetChargingProfile on 20-50 stations, SQLite, 2 loaded cores):
# measured 0.6-1.2 s; in simulated time it grows with the speed.
COMMAND_LATENCY_REAL_S = 1.5


@dataclass(frozen=True)
class Tolerance:
    """What "the same result" means here (docs/optimizer.md explains each figure)."""

    session_kwh: float = 0.6  # per session
    peak_pct: float = 3.0  # each demand period's peak, % of the real peak
    bill_pct: float = 1.0  # the bill's total, % of the real bill

    @classmethod
    def for_speed(cls, speed: float, max_power_kw: float = 6.6) -> Tolerance:
        """0.25 kWh (rounding plug-in/out to the 15-minute grid, taper, meter interval)
        plus one command latency at the fastest port's power."""
        latency_h = COMMAND_LATENCY_REAL_S * speed / 3600
        return cls(session_kwh=round(0.25 + max_power_kw * latency_h, 2))


@dataclass
class WindowScenario(Scenario):
    """A scenario of a few hours (``Scenario`` counts whole days)."""

    steps: int = 0

    @property
    def n_steps(self) -> int:
        return self.steps


@dataclass
class Figures:
    """One path's result over the window."""

    delivered_kwh: dict[str, float]
    peaks_kw: dict[str, float]
    bill_total: float
    energy_cost: float
    demand_cost: float
    site_kwh: float


@dataclass
class Comparison:
    real: Figures
    replay: Figures
    tolerance: Tolerance
    sessions: int
    notes: list[str] = field(default_factory=list)

    def session_diffs(self) -> dict[str, float]:
        return {
            k: self.replay.delivered_kwh.get(k, 0.0) - kwh
            for k, kwh in self.real.delivered_kwh.items()
        }

    def max_session_diff_kwh(self) -> float:
        return max((abs(d) for d in self.session_diffs().values()), default=0.0)

    def peak_diff_pct(self) -> dict[str, float]:
        return {
            k: 100 * (self.replay.peaks_kw.get(k, 0.0) - kw) / max(kw, 1e-9)
            for k, kw in self.real.peaks_kw.items()
        }

    def bill_diff_pct(self) -> float:
        return (
            100 * (self.replay.bill_total - self.real.bill_total) / max(self.real.bill_total, 1e-9)
        )

    def passed(self) -> bool:
        t = self.tolerance
        return (
            self.max_session_diff_kwh() <= t.session_kwh
            and all(abs(d) <= t.peak_pct for d in self.peak_diff_pct().values())
            and set(self.real.peaks_kw) == set(self.replay.peaks_kw)
            and abs(self.bill_diff_pct()) <= t.bill_pct
        )


def _time(value: str) -> datetime:
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _nearest(t: datetime) -> datetime:
    """The 15-minute grid point nearest to ``t``: the replay sees vehicles only on the grid."""
    return datetime.fromtimestamp(round(t.timestamp() / STEP_S) * STEP_S, tz=UTC)


def record_sessions(data: dict[str, Any], end: datetime) -> list[Session]:
    """The controlled sessions of an ``evsim-run/1`` record, for the replay.

    The DCFC is metered, not limited: its load enters the replay as ``dcfc_kw``.
    """
    sessions = []
    for s in data.get("sessions", []):
        if s.get("status") == "no_free_port" or not s.get("max_power_kw") or s["group"] == "dcfc":
            continue
        arrival = _nearest(_time(s.get("plugged_in_at") or s["arrival"]))
        departure = _nearest(_time(s.get("unplugged_at") or s["departure"]))
        sessions.append(
            Session(
                key=session_key(s),
                group=str(s["group"]),
                arrival=arrival,
                departure=min(departure, end),
                energy_kwh=float(s["energy_requested_kwh"]),
                max_power_kw=float(s["max_power_kw"]),
            )
        )
    return sessions


def session_key(s: dict[str, Any]) -> str:
    return f"{s['station_id']}/{s['session_id']}"


def scenario_from_record(
    data: dict[str, Any], start: datetime, hours: float, cfg: Any
) -> WindowScenario:
    """The replay's scenario: the record's sessions on the record's own non-EV load.

    ``base_kw`` is the main meter minus all charging (base load, PV, battery) and
    ``dcfc_kw`` the DCFC's draw, both as 15-minute averages of the run.
    """
    steps = math.ceil(hours * 3600 / STEP_S)
    end = start + timedelta(seconds=steps * STEP_S)
    bins = {_time(r["start"]): r for r in data.get("intervals_15min", [])}
    base, dcfc = [], []
    for k in range(steps):
        row = bins.get(start + timedelta(seconds=k * STEP_S))
        if row is None:
            raise ValueError(f"the run record has no 15-minute bin at step {k}")
        base.append(float(row["site_kw"]) - float(row["ev_kw"]))
        dcfc.append(float(row.get("dcfc_kw", 0.0)))
    windows = [
        GroupWindow(name, g.start_window.opens, g.start_window.closes)
        for name, g in cfg.groups.items()
        if g.start_window is not None
    ]
    return WindowScenario(
        name="reference-garage (real run's sessions)",
        timezone=cfg.site.timezone,
        start=start,
        days=0,
        sessions=record_sessions(data, end),
        base_kw=base,
        dcfc_kw=dcfc,
        import_limit_kw=cfg.site.import_limit_kw - cfg.site.import_margin_kw,
        windows=windows,
        shed_groups=[n for n, g in cfg.groups.items() if g.shed],
        steps=steps,
    )


def figures(
    samples: list[tuple[datetime, float]],
    interval_s: int,
    delivered: dict[str, float],
    tariff: Tariff,
) -> Figures:
    bills = compute_bills(samples, tariff, interval_s=interval_s)
    peaks: dict[str, float] = {}
    for bill in bills:
        for key, kw in bill.peaks_kw.items():
            peaks[key] = max(peaks.get(key, 0.0), kw)
    return Figures(
        delivered_kwh=delivered,
        peaks_kw=peaks,
        bill_total=sum(b.total for b in bills),
        energy_cost=sum(b.subtotal("energy") + b.subtotal("pdp_energy") for b in bills),
        demand_cost=sum(b.subtotal("demand") for b in bills),
        site_kwh=sum(b.energy_kwh for b in bills),
    )


def real_figures(data: dict[str, Any], sc: WindowScenario, tariff: Tariff) -> Figures:
    interval_s = int(data.get("interval_s", 60))
    end = sc.start + timedelta(seconds=sc.n_steps * STEP_S)
    warm = sc.start + timedelta(seconds=WARMUP_STEPS * STEP_S)
    samples = [
        (_time(r["start"]), float(r["site_kw"]))
        for r in data["intervals"]
        if float(r.get("covered_s", 1.0)) > 0 and warm <= _time(r["start"]) < end
    ]
    keys = {s.key for s in sc.sessions}
    delivered = {
        session_key(s): float(s["energy_delivered_kwh"])
        for s in data.get("sessions", [])
        if s.get("station_id") and session_key(s) in keys
    }
    return figures(samples, interval_s, delivered, tariff)


def replay_figures(sc: WindowScenario, res: ReplayResult, tariff: Tariff) -> Figures:
    samples = [
        (sc.start + timedelta(seconds=k * STEP_S), p)
        for k, p in enumerate(res.site_kw)
        if k >= WARMUP_STEPS
    ]
    return figures(samples, STEP_S, dict(res.delivered_kwh), tariff)


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    """Set variables for the children the demo starts (it copies os.environ)."""
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_real(
    start: datetime,
    hours: float,
    speed: float,
    out: Path,
    strategy: str,
    edge_env: dict[str, str] | None = None,
) -> Path:
    """Run the real components with the demo's own code; returns the run record's path.

    ``edge_env``: more environment overrides (``EDGE_SECTION__KEY``) for the children.
    """
    from simulators.demo.cli import SITE_ZONE
    from simulators.demo.run import DemoOptions, run_demo

    options = DemoOptions(
        start=start,
        duration=timedelta(hours=hours),
        speed=speed,
        out=out.resolve(),
        zone=SITE_ZONE,
    )
    log = io.StringIO()
    with _env({**(edge_env or {}), "EDGE_OPTIMIZER__STRATEGY": strategy}):
        code = asyncio.run(run_demo(options, out=log))
    (out / "demo.txt").write_text(log.getvalue())
    if code != 0:
        raise RuntimeError(f"the real run failed (exit {code}):\n{log.getvalue()[-3000:]}")
    return out / "run.json"


def compare(
    record: Path,
    start: datetime,
    hours: float,
    strategy: str,
    tolerance: Tolerance | None = None,
) -> Comparison:
    """Replay the record's sessions through ``strategy`` and compare with the record."""
    from edge.config import load_site_config
    from edge.tariff.loader import load_tariff
    from simulators.demo.run import site_config_path
    from simulators.scenario.output import read_run_output

    cfg = load_site_config(site_config_path())
    tariff = load_tariff(str(cfg.site.tariff or "pge-e19"))
    data = read_run_output(record)
    sc = scenario_from_record(data, start.astimezone(UTC), hours, cfg)
    res = replay(sc, PLANNERS[strategy](OptimizerSection(strategy=strategy)), tariff)
    return Comparison(
        real=real_figures(data, sc, tariff),
        replay=replay_figures(sc, res, tariff),
        tolerance=tolerance or Tolerance(),
        sessions=len(sc.sessions),
    )


def format_comparison(c: Comparison, strategy: str, label: str) -> str:
    t, r, p = c.tolerance, c.real, c.replay
    diffs = c.session_diffs()
    worst = max(diffs, key=lambda k: abs(diffs[k]), default="-")
    lines = [
        f"Replay vs real components, {label}, strategy {strategy!r}, {c.sessions} sessions",
        f"  {'':<34} {'real':>10} {'replay':>10} {'diff':>9}",
        f"  {'energy delivered, kWh':<34} {sum(r.delivered_kwh.values()):>10.2f}"
        f" {sum(p.delivered_kwh.values()):>10.2f} {sum(diffs.values()):>+9.2f}",
        f"  {'site energy, kWh':<34} {r.site_kwh:>10.2f} {p.site_kwh:>10.2f}"
        f" {p.site_kwh - r.site_kwh:>+9.2f}",
    ]
    for key in sorted(set(r.peaks_kw) | set(p.peaks_kw)):
        a, b = r.peaks_kw.get(key, 0.0), p.peaks_kw.get(key, 0.0)
        lines.append(f"  {'peak kW, ' + key:<34} {a:>10.2f} {b:>10.2f} {b - a:>+9.2f}")
    for name, a, b in (
        ("bill: energy", r.energy_cost, p.energy_cost),
        ("bill: demand", r.demand_cost, p.demand_cost),
        ("bill: TOTAL", r.bill_total, p.bill_total),
    ):
        lines.append(f"  {name:<34} {a:>10.2f} {b:>10.2f} {b - a:>+9.2f}")
    peak_pct = c.peak_diff_pct()
    worst_peak = max((abs(v) for v in peak_pct.values()), default=0.0)
    lines += [
        f"  per session: max |replay - real| {c.max_session_diff_kwh():.3f} kWh ({worst})"
        f"; tolerance {t.session_kwh} kWh",
        f"  peaks: max |diff| {worst_peak:.2f} % (tolerance {t.peak_pct} %);"
        f" bill: {c.bill_diff_pct():+.2f} % (tolerance {t.bill_pct} %)",
        *(f"  note: {n}" for n in c.notes),
        "PASS" if c.passed() else "FAIL",
    ]
    return "\n".join(lines)


def main_compare(
    start: datetime,
    hours: float,
    speed: float,
    out: Path,
    strategy: str,
    edge_env: dict[str, str] | None = None,
) -> int:
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"compare-real: running the real components (mosquitto, csms, edge with strategy "
        f"{strategy!r}, evsim) for {hours:g} h from {start.isoformat()} at {speed:g}x; "
        f"output in {out}",
        flush=True,
    )
    if edge_env:
        print(f"compare-real: edge overrides {edge_env}", flush=True)
    record = run_real(start, hours, speed, out, strategy, edge_env)
    c = compare(record, start, hours, strategy, Tolerance.for_speed(speed))
    text = format_comparison(c, strategy, f"{hours:g} h from {start.isoformat()}")
    (out / "compare-real.txt").write_text(text + "\n")
    print(text)
    return 0 if c.passed() else 1
