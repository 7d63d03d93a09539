"""The siting service: arrival requests in, assignments out (thin I/O around the engine).

The daemon subscribes to ``Topics.arrivals(site_id)`` and hands each payload to
:meth:`SitingService.handle_arrival`. Without batch mode the vehicle is sited at
once; with ``batch = true`` arrivals queue up and a loop sites them every
``batch_interval_s`` on the clock ([0058]). Each decision is published as an
:class:`~evcommon.contract.Assignment` on ``Topics.assignments(site_id)``.

The engine is CPU work (tens of ms); it runs in a worker thread under a lock,
so the daemon's event loop keeps serving meters and chargers meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC
from types import TracebackType
from typing import Any

from edge.planning import Planner
from edge.siting.adapters import build_engine
from edge.siting.config import SitingSection
from edge.siting.decision import SitingDecision, SitingError
from edge.siting.multisite import MultiSiteEngine
from edge.siting.process400 import SitingEngine
from edge.siting.schedule import Arrival
from evcommon.clock import Clock
from evcommon.contract import ArrivalRequest, Topics, decode, encode
from evcommon.errors import ContractError
from evcommon.logs import get_logger

Publish = Callable[[str, bytes], Awaitable[None]]
log = get_logger(__name__)


def to_arrival(req: ArrivalRequest, default_max_kw: float = 350.0) -> Arrival:
    def utc(ts: Any) -> Any:
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)

    if req.departure <= req.arrival:
        raise ContractError("departure: must be after arrival")
    arrival = Arrival(
        vehicle_id=req.vehicle_id,
        arrival=utc(req.arrival),
        departure=utc(req.departure),
        energy_kwh=req.energy_kwh,
        battery_kwh=req.battery_kwh,
        soc_arrival_pct=req.soc_arrival_pct,
        soc_departure_pct=req.soc_departure_pct,
        max_power_kw=req.max_power_kw or default_max_kw,
        flexible_departure=req.flexible_departure,
        group=req.group or "fleet",
        site_id=req.site_id,
    )
    try:
        arrival.energy_needed_kwh()
    except ValueError as exc:
        raise ContractError(f"energy_kwh: {exc}") from exc
    return arrival


class SitingService:
    def __init__(
        self,
        config: SitingSection,
        site: Any,
        clock: Clock,
        publish: Publish,
        *,
        planner: Planner | None = None,
        topics: Topics | None = None,
    ):
        self.config = config
        self.clock = clock
        self.publish = publish
        self.topics = topics or Topics()
        self.engine: SitingEngine | MultiSiteEngine = build_engine(config, site, planner)
        self.pending: list[Arrival] = []
        self.decisions: list[SitingDecision] = []
        self.rejected = 0  # bad payloads, counted and logged
        self.failed = 0  # vehicles no charger could take
        self.outbox: list[tuple[str, bytes]] = []  # assignments not yet published
        self._lock = asyncio.Lock()
        self._tasks: asyncio.TaskGroup | None = None
        self._batch_task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def site_ids(self) -> list[str]:
        if isinstance(self.engine, MultiSiteEngine):
            return list(self.engine.engines)
        return [self.engine.site.site_id]

    async def __aenter__(self) -> SitingService:
        self._tasks = asyncio.TaskGroup()
        await self._tasks.__aenter__()
        if self.config.batch:
            self._batch_task = self._tasks.create_task(self._batch_loop(), name="siting-batch")
            await asyncio.sleep(0)  # let the loop start its first wait on the clock
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._batch_task is not None:
            self._batch_task.cancel()
        assert self._tasks is not None
        await self._tasks.__aexit__(exc_type, exc, tb)

    async def handle_arrival(self, payload: bytes) -> list[SitingDecision]:
        """One arrival request; returns the decisions made now (none when batching)."""
        try:
            arrival = to_arrival(decode(ArrivalRequest, payload))
        except ContractError as exc:
            self.rejected += 1
            log.warning("siting.bad_arrival", error=str(exc))
            return []
        if self.config.batch:
            self.pending.append(arrival)
            return []
        return await self._site([arrival])

    async def run_batch(self) -> list[SitingDecision]:
        """Site everything queued since the last run."""
        batch, self.pending = self.pending, []
        if not batch:
            await self.flush()
            return []
        return await self._site(batch)

    async def _batch_loop(self) -> None:
        while not self._stop.is_set():
            await self.clock.sleep(self.config.batch_interval_s)
            await self.run_batch()

    async def _site(self, arrivals: list[Arrival]) -> list[SitingDecision]:
        now = self.clock.now()
        out = []
        async with self._lock:
            for arrival in sorted(arrivals, key=lambda a: (a.departure, a.vehicle_id)):
                try:
                    decision = await asyncio.to_thread(self.engine.site_vehicle, arrival, now)
                except SitingError as exc:
                    self.failed += 1
                    log.warning("siting.no_charger", vehicle=arrival.vehicle_id, error=str(exc))
                    continue
                out.append(decision)
        for decision in out:
            self.decisions.append(decision)
            log.info(
                "siting.assigned",
                site=decision.site_id,
                vehicle=decision.vehicle_id,
                station=decision.station_id,
                node=decision.node,
                path=decision.path,
            )
            topic = self.topics.assignments(decision.site_id)
            self.outbox.append((topic, encode(decision.assignment())))
        await self.flush()
        return out

    async def flush(self) -> None:
        """Publish what is waiting; on a broker error keep it for the next try."""
        while self.outbox:
            topic, payload = self.outbox[0]
            try:
                await self.publish(topic, payload)
            except Exception as exc:  # the link raises its own errors when disconnected
                log.warning("siting.publish_failed", waiting=len(self.outbox), error=repr(exc))
                return
            self.outbox.pop(0)
