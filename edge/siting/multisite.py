"""Several sites under one controller ([0081]).

Each site keeps its own network, schedule and engine. An arriving vehicle is
evaluated on every site (nothing committed), and the best outcome wins: a
direct process-400 result beats any exception path, then the smaller energy
shortfall, then the site the vehicle asked for, then the higher voltage.
Sending a vehicle elsewhere than it asked is the [0075] "reroute" measure.
"""

from __future__ import annotations

from datetime import datetime

from edge.siting.decision import EXCEPTION_PATHS, SitingDecision, SitingError
from edge.siting.process400 import Attempt, SitingEngine
from edge.siting.schedule import Arrival

_PATH_RANK = {"direct": 0, **{p: i + 1 for i, p in enumerate(EXCEPTION_PATHS)}}


class MultiSiteEngine:
    def __init__(self, engines: dict[str, SitingEngine]):
        if not engines:
            raise ValueError("no sites")
        self.engines = engines

    def site_vehicle(self, arrival: Arrival, now: datetime) -> SitingDecision:
        attempts: list[tuple[str, Attempt]] = []
        errors = []
        for site_id, engine in self.engines.items():
            try:
                attempts.append((site_id, engine.decide(arrival, now)))
            except SitingError as exc:
                errors.append(str(exc))
        if not attempts:
            raise SitingError("; ".join(errors))

        def rank(item: tuple[str, Attempt]) -> tuple[int, float, int, float]:
            site_id, att = item
            d = att.decision
            return (
                _PATH_RANK.get(d.path, 9),
                round(d.shortfall_kwh, 3),
                0 if site_id == arrival.site_id else 1,
                -d.min_voltage_pu,
            )

        site_id, best = min(attempts, key=rank)
        self.engines[site_id].commit(best)
        if arrival.site_id is not None and site_id != arrival.site_id:
            best.decision.notes.append(f"rerouted from site {arrival.site_id}")
        return best.decision

    def site_batch(self, arrivals: list[Arrival], now: datetime) -> list[SitingDecision]:
        ordered = sorted(arrivals, key=lambda a: (a.departure, a.vehicle_id))
        return [self.site_vehicle(a, now) for a in ordered]
