"""Ports of a scenario and the two ways of running them.

* :class:`LocalStations`: no CSMS; every station offers its full power and the
  runner steps the vehicles itself (an uncontrolled baseline, or a quick check).
* :class:`OcppStations`: one :class:`simulators.chargepoint.SimStation` per station,
  connected to a CSMS; the stations step the vehicles following their charging
  profiles, the runner only plugs and unplugs.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from evcommon.clock import Clock
from evcommon.logs import get_logger
from simulators.scenario.plan import PlannedSession, Port, ScenarioPlan
from simulators.vehicle import Vehicle

if TYPE_CHECKING:
    from simulators.chargepoint.station import SimStation

log = get_logger(__name__)


class PortPool:
    """Free ports; a session gets its station, or the first free port of its type/group
    (highest power first, then by station id, so the choice is reproducible)."""

    def __init__(self, ports: list[Port]):
        self.ports = sorted(ports, key=lambda p: (-p.max_power_kw, p.station_id, p.connector_id))
        self._busy: set[tuple[str, int]] = set()

    def allocate(self, session: PlannedSession) -> Port | None:
        for p in self.ports:
            if (p.station_id, p.connector_id) in self._busy:
                continue
            if (
                (session.station is not None and p.station_id == session.station)
                or (session.station_type is not None and p.station_type == session.station_type)
                or (session.group is not None and p.group == session.group)
            ):
                self._busy.add((p.station_id, p.connector_id))
                return p
        return None

    def release(self, port: Port) -> None:
        self._busy.discard((port.station_id, port.connector_id))


class Stations(Protocol):
    steps_vehicles: bool  # True: the runner integrates the vehicles itself

    async def plug_in(self, port: Port, ev: Vehicle) -> bool:
        """Plug in and start charging; False when the station refused (not authorized...)."""
        ...

    async def unplug(self, port: Port) -> None: ...

    def advance(self) -> None:
        """Bring every vehicle's energy up to the clock's now."""
        ...


class LocalStations:
    steps_vehicles = True

    def __init__(self) -> None:
        self.plugged: dict[tuple[str, int], tuple[Port, Vehicle]] = {}

    async def plug_in(self, port: Port, ev: Vehicle) -> bool:
        self.plugged[(port.station_id, port.connector_id)] = (port, ev)
        return True

    async def unplug(self, port: Port) -> None:
        self.plugged.pop((port.station_id, port.connector_id), None)

    def advance(self) -> None:
        pass

    def step(self, dt_s: float) -> None:
        for port, ev in self.plugged.values():
            ev.step(port.max_power_kw, dt_s)


class OcppStations:
    """SimStations for every station of the plan, connected to ``csms_url``."""

    steps_vehicles = False

    def __init__(
        self,
        plan: ScenarioPlan,
        csms_url: str,
        clock: Clock,
        meter_interval_s: float | None = None,
    ):
        self.plan = plan
        self.csms_url = csms_url
        self.clock = clock
        meters = plan.scenario.meters
        self.meter_interval_s = meter_interval_s or max(
            meters.station_meter_interval_s, clock.speed * meters.station_meter_min_real_s
        )
        self.stations: dict[str, SimStation] = {}
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> OcppStations:
        from simulators.chargepoint.config import StationConfig
        from simulators.chargepoint.station import SimStation

        by_station: dict[str, list[Port]] = {}
        for p in self.plan.ports:
            by_station.setdefault(p.station_id, []).append(p)
        opts = self.plan.scenario.ocpp
        await self._stack.__aenter__()
        try:
            for sid, ports in by_station.items():
                first = ports[0]
                st_type = self.plan.station_types[first.station_type]
                config = StationConfig(
                    station_id=sid,
                    ocpp_version=first.ocpp,
                    connectors=len(ports),
                    preset=first.preset,
                    max_power_kw=st_type.max_power_kw,
                    meter_interval_s=self.meter_interval_s,
                    transaction_message_attempts=opts.transaction_message_attempts,
                    transaction_message_retry_interval_s=opts.transaction_message_retry_interval_s,
                    drain_timeout_s=opts.drain_timeout_s,
                )
                station = SimStation(config, self.csms_url, self.clock)
                self.stations[sid] = await self._stack.enter_async_context(station)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None or issubclass(exc_type, Exception):
            await self.shutdown()
        await self._stack.__aexit__(exc_type, exc, tb)

    async def shutdown(self) -> None:
        """Stop every station at once: transactions end, queues drain (each station waits
        at most its ``drain_timeout_s``), websockets close with 1001."""
        results = await asyncio.gather(
            *(s.shutdown() for s in self.stations.values()), return_exceptions=True
        )
        for sid, r in zip(self.stations, results, strict=True):
            if isinstance(r, BaseException):
                log.error("station_shutdown_failed", station_id=sid, error=repr(r))
        lost = {
            sid: n for sid, d in self.delivery().items() if (n := d["undelivered"] + d["dropped"])
        }
        if lost:
            log.error("transaction_messages_lost", stations=lost)

    def delivery(self) -> dict[str, dict[str, int]]:
        """Per station: transaction messages delivered, dropped (given up after
        CALLERRORs) and undelivered (still queued at shutdown)."""
        return {sid: st.delivery() for sid, st in self.stations.items()}

    async def flush(self, timeout_s: float = 15.0) -> None:
        """Wait until every station delivered its queued transaction messages."""
        results = await asyncio.gather(
            *(s.flush(timeout_s) for s in self.stations.values()), return_exceptions=True
        )
        failed = [sid for sid, r in zip(self.stations, results, strict=True) if r is not None]
        if failed:
            log.warning("stations_not_flushed", stations=failed[:10], count=len(failed))

    async def wait_accepted(self, timeout_s: float = 30.0) -> None:
        await asyncio.gather(*(s.wait_accepted(timeout_s) for s in self.stations.values()))

    async def plug_in(self, port: Port, ev: Vehicle) -> bool:
        station = self.stations[port.station_id]
        try:
            ok = await station.plug_in(port.connector_id, ev)
        except Exception:
            # one station's failure must not end the whole run; the session is recorded
            log.exception("plug_in_failed", station_id=port.station_id, ev=ev.vehicle_id)
            return False
        if not ok:
            log.warning("plug_in_not_authorized", station_id=port.station_id, ev=ev.vehicle_id)
        return ok

    async def unplug(self, port: Port) -> None:
        try:
            await self.stations[port.station_id].unplug(port.connector_id)
        except Exception:
            log.exception("unplug_failed", station_id=port.station_id)

    def advance(self) -> None:
        for station in self.stations.values():
            station.advance()
