"""What a run writes: per-session energy requested vs delivered, per-interval site power.

The file format (``evsim-run/1``, JSON) is documented in docs/simulators.md; the bill
and benchmark tools read it with :func:`read_run_output`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FORMAT = "evsim-run/1"
#: per-interval averages; ``site_kw`` is the main meter (grid import, negative = export),
#: ``ev_kw`` all charging including the DC fast charger, ``dcfc_kw`` the DCFC's part of it;
#: site_kw = base_kw + ev_kw + pv_kw + battery_kw
PARTS = ("site_kw", "base_kw", "ev_kw", "dcfc_kw", "pv_kw", "battery_kw")


@dataclass
class SessionRecord:
    session_id: str
    vehicle_id: str
    vehicle_type: str
    arrival: datetime  # planned
    departure: datetime  # planned
    energy_requested_kwh: float
    arrival_soc_pct: float
    source: str
    # planned | plugged | completed | plugged_at_end | no_free_port | rejected
    status: str = "planned"
    id_token: str | None = None
    station_id: str | None = None
    connector_id: int | None = None
    station_type: str | None = None
    group: str | None = None
    max_power_kw: float | None = None  # min(port, vehicle) while plugged in
    plugged_in_at: datetime | None = None
    unplugged_at: datetime | None = None
    charge_start: datetime | None = None
    charge_end: datetime | None = None
    energy_delivered_kwh: float = 0.0
    departure_soc_pct: float | None = None
    interruptions: int = 0
    gave_up: bool = False
    stop_reason: str | None = None


class IntervalSeries:
    """Average power of each part over fixed bins aligned to the Unix epoch (UTC)."""

    def __init__(self, bin_s: int):
        self.bin_s = bin_s
        self._energy: dict[int, dict[str, float]] = {}
        self._covered: dict[int, float] = {}

    def add(self, t0: datetime, t1: datetime, parts_kw: dict[str, float]) -> None:
        a, b = t0.timestamp(), t1.timestamp()
        while a < b:
            k = int(a // self.bin_s)
            end = min(b, (k + 1) * self.bin_s)
            span = end - a
            bucket = self._energy.setdefault(k, dict.fromkeys(PARTS, 0.0))
            for name, kw in parts_kw.items():
                bucket[name] += kw * span
            self._covered[k] = self._covered.get(k, 0.0) + span
            a = end

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for k in sorted(self._energy):
            covered = self._covered[k]
            start = datetime.fromtimestamp(k * self.bin_s, UTC)
            row: dict[str, Any] = {
                "start": start.isoformat(),
                "end": (start + timedelta(seconds=self.bin_s)).isoformat(),
                "covered_s": round(covered, 3),
            }
            for name in PARTS:
                row[name] = round(self._energy[k][name] / covered, 4) if covered else 0.0
            out.append(row)
        return out


@dataclass
class RunOutput:
    scenario: str
    site_id: str
    timezone: str
    start: datetime
    end: datetime
    clock: str
    mode: str  # "local" (stations offer their max) or "ocpp" (SimStations on a CSMS)
    sessions: list[SessionRecord] = field(default_factory=list)
    series_1min: IntervalSeries = field(default_factory=lambda: IntervalSeries(60))
    series_15min: IntervalSeries = field(default_factory=lambda: IntervalSeries(900))
    #: stopped early by a signal (evsim run: SIGTERM/SIGINT); ``ended_at`` is the
    #: simulated time the run stopped at (``end`` when it played to the end)
    interrupted: bool = False
    interrupted_by: str | None = None
    ended_at: datetime | None = None
    #: OCPP mode, per station: transaction messages delivered / dropped / undelivered
    tx_messages: dict[str, dict[str, int]] = field(default_factory=dict)

    def add_power(self, t0: datetime, t1: datetime, parts_kw: dict[str, float]) -> None:
        self.series_1min.add(t0, t1, parts_kw)
        self.series_15min.add(t0, t1, parts_kw)

    def summary(self) -> dict[str, Any]:
        rows15 = self.series_15min.rows()
        full = [r for r in rows15 if r["covered_s"] >= 0.99 * 900] or rows15
        served = [s for s in self.sessions if s.status not in ("no_free_port", "rejected")]
        req = sum(s.energy_requested_kwh for s in served)
        got = sum(s.energy_delivered_kwh for s in served)
        return {
            "sessions": len(self.sessions),
            "sessions_served": len(served),
            "sessions_no_free_port": sum(s.status == "no_free_port" for s in self.sessions),
            "sessions_rejected": sum(s.status == "rejected" for s in self.sessions),
            "sessions_gave_up": sum(s.gave_up for s in self.sessions),
            "energy_requested_kwh": round(req, 3),
            "energy_delivered_kwh": round(got, 3),
            "delivered_ratio": round(got / req, 4) if req else None,
            "peak_site_15min_kw": max((r["site_kw"] for r in full), default=0.0),
            "peak_ev_15min_kw": max((r["ev_kw"] for r in full), default=0.0),
            "energy_site_kwh": round(sum(r["site_kw"] * r["covered_s"] for r in rows15) / 3600, 3),
            "energy_ev_kwh": round(sum(r["ev_kw"] * r["covered_s"] for r in rows15) / 3600, 3),
            "tx_messages_dropped": sum(d["dropped"] for d in self.tx_messages.values()),
            "tx_messages_undelivered": sum(d["undelivered"] for d in self.tx_messages.values()),
        }

    def to_json(self) -> dict[str, Any]:
        def enc(v: Any) -> Any:
            return v.isoformat() if isinstance(v, datetime) else v

        return {
            "format": FORMAT,
            "scenario": self.scenario,
            "site_id": self.site_id,
            "timezone": self.timezone,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "clock": self.clock,
            "mode": self.mode,
            "interrupted": self.interrupted,
            "interrupted_by": self.interrupted_by,
            "ended_at": enc(self.ended_at),
            "summary": self.summary(),
            "tx_messages": self.tx_messages,
            "sessions": [{k: enc(v) for k, v in asdict(s).items()} for s in self.sessions],
            "interval_s": 60,
            "intervals": self.series_1min.rows(),
            "intervals_15min": self.series_15min.rows(),
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1))
        tmp.replace(path)


def read_run_output(path: str | Path) -> dict[str, Any]:
    """Load a run file; checks the format tag."""
    data: dict[str, Any] = json.loads(Path(path).read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not an {FORMAT} file (format={data.get('format')!r})")
    return data
