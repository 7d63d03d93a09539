"""Plays a scenario on a clock: arrivals plug in, departures unplug, meters publish.

One loop, ticking every ``meters.publish_interval_s`` simulated seconds: bring the
stations up to now, take each vehicle's energy since the last tick (so the site
power is exactly what the vehicles drew), step the site (base load, PV, battery),
record and publish, then handle departures and arrivals that are due.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from evcommon.clock import Clock, ManualClock
from evcommon.errors import ConfigError
from evcommon.logs import get_logger
from simulators.scenario.output import RunOutput, SessionRecord
from simulators.scenario.plan import PlannedSession, Port, ScenarioPlan
from simulators.scenario.stations import LocalStations, PortPool, Stations
from simulators.site.baseload import BaseLoadSpec
from simulators.site.battery import BatterySpec
from simulators.site.meters import SiteModel
from simulators.site.publisher import MeterPublisher
from simulators.site.pv import PvSpec
from simulators.vehicle import Vehicle, VehicleSpec

log = get_logger(__name__)


def id_token_for(session_id: str) -> str:
    """A stable id token that fits OCPP 1.6's idTag (CiString20)."""
    return "EV" + hashlib.sha1(session_id.encode()).hexdigest()[:12].upper()


def make_vehicle(session: PlannedSession, spec: VehicleSpec, port: Port) -> Vehicle:
    """The session's vehicle; its arrival SoC leaves room for the requested energy.

    A request larger than 90 % of the type's battery gets a battery that holds it (in a
    replay the recorded energy is the truth, the vehicle type only a default)."""
    battery_need_kwh = session.energy_kwh * spec.efficiency
    if battery_need_kwh > 0.9 * spec.capacity_kwh:
        spec = replace(spec, capacity_kwh=round(battery_need_kwh / 0.9, 1))
    need_pct = 100.0 * battery_need_kwh / spec.capacity_kwh
    soc = max(0.0, min(session.arrival_soc_pct, 95.0 - need_pct))
    return Vehicle(
        f"EV-{session.session_id}",
        spec,
        id_token=id_token_for(session.session_id),
        arrival_soc_pct=soc,
        energy_request_kwh=session.energy_kwh,
        departure_time=session.departure,
        mode="dc" if port.is_dcfc else "ac",
    )


def build_site(plan: ScenarioPlan) -> SiteModel:
    sc = plan.scenario
    info = sc.scenario
    pv = None
    if sc.pv is not None:
        pv = PvSpec(
            peak_kw=sc.pv.peak_kw,
            latitude_deg=info.latitude_deg,
            longitude_deg=info.longitude_deg,
            performance_ratio=sc.pv.performance_ratio,
            cloudiness=sc.pv.cloudiness,
            seed=info.seed,
        )
    battery = BatterySpec(**sc.battery.model_dump()) if sc.battery is not None else None
    base = BaseLoadSpec(
        profile=sc.base_load.profile,
        peak_kw=sc.base_load.peak_kw,
        weekend_factor=sc.base_load.weekend_factor,
        noise_pct=sc.base_load.noise_pct,
        seed=info.seed,
    )
    has_dcfc = any(p.is_dcfc for p in plan.ports)
    return SiteModel(tz=info.tz, base=base, pv=pv, battery_spec=battery, has_dcfc=has_dcfc)


@dataclass
class _Active:
    session: PlannedSession
    port: Port
    vehicle: Vehicle
    record: SessionRecord
    seen_kwh: float = 0.0


class ScenarioRunner:
    def __init__(
        self,
        plan: ScenarioPlan,
        clock: Clock,
        stations: Stations,
        *,
        publisher: MeterPublisher | None = None,
        clock_spec: str = "",
        free_run: bool = False,
    ):
        if free_run and not (isinstance(clock, ManualClock) and stations.steps_vehicles):
            raise ConfigError("free-running needs a ManualClock and local stations")
        self.plan = plan
        self.clock = clock
        self.stations = stations
        self.publisher = publisher
        self.free_run = free_run
        self.site = build_site(plan)
        self.pool = PortPool(plan.ports)
        self.active: dict[str, _Active] = {}
        self.output = RunOutput(
            scenario=plan.scenario.scenario.name,
            site_id=plan.site_id,
            timezone=plan.scenario.scenario.timezone,
            start=plan.start,
            end=plan.end,
            clock=clock_spec,
            mode="local" if stations.steps_vehicles else "ocpp",
        )
        self._pending = sorted(plan.sessions, key=lambda s: s.arrival)
        self._ev_kwh = 0.0
        self._dcfc_kwh = 0.0
        self._last_span: tuple[datetime, datetime] | None = None
        self._stop = asyncio.Event()

    def request_stop(self, reason: str = "stop") -> None:
        """End the run early (e.g. on SIGTERM): the loop ends at the current simulated
        time, every vehicle is unplugged and the output is marked ``interrupted``."""
        if not self._stop.is_set() and self.output.ended_at is None:
            log.info("run_stop_requested", reason=reason)
            self.output.interrupted, self.output.interrupted_by = True, reason
            self._stop.set()

    async def run(self) -> RunOutput:
        plan = self.plan
        if self.clock.now() > plan.end:
            raise ConfigError(
                f"{plan.path}: the scenario ends {plan.end.isoformat()}, before the clock's "
                f"now {self.clock.now().isoformat()}; use --speed, --clock or --start"
            )
        await self._wait_until(plan.start)
        interval = timedelta(seconds=plan.scenario.meters.publish_interval_s)
        last = self._now()
        self.output.start = last
        if not self._stop.is_set():
            await self._arrivals(last)
        next_tick = last + interval
        while last < plan.end and not self._stop.is_set():
            await self._wait_until(min(next_tick, plan.end))
            now = self._now()
            self._tick(last, now)
            await self._departures(now)
            if self._stop.is_set():
                last = now
                break
            await self._arrivals(now)
            last = now
            while next_tick <= now:
                next_tick += interval
        await self._finish(last)
        self.output.ended_at = last
        return self.output

    def _now(self) -> datetime:
        # an early stop can come between ticks; never past the end of the scenario
        return min(self.clock.now(), self.plan.end)

    async def _wait_until(self, when: datetime) -> None:
        """Sleep until ``when`` on the clock, or until a stop is requested."""
        if self._stop.is_set():
            return
        if self.free_run:
            assert isinstance(self.clock, ManualClock)
            if when > self.clock.now():
                self.clock.set(when)
            await asyncio.sleep(0)  # let a signal handler run between free-running ticks
            return
        sleeper = asyncio.ensure_future(self.clock.sleep_until(when))
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopper.cancel()

    def _tick(self, last: datetime, now: datetime) -> None:
        dt_s = (now - last).total_seconds()
        if dt_s <= 0:
            return
        if isinstance(self.stations, LocalStations):
            self.stations.step(dt_s)
        else:
            self.stations.advance()
        for a in self.active.values():
            self._collect(a, last, now)
        h = dt_s / 3600.0
        ev_kw, dcfc_kw = self._ev_kwh / h, self._dcfc_kwh / h
        self._ev_kwh = self._dcfc_kwh = 0.0
        power = self.site.step(last, now, ev_kw, dcfc_kw)
        self._last_span = (last, now)
        self.output.add_power(
            last,
            now,
            {
                "site_kw": power.main_kw,
                "base_kw": power.base_kw,
                "ev_kw": power.ev_kw + power.dcfc_kw,
                "dcfc_kw": power.dcfc_kw,
                "pv_kw": power.pv_kw,
                "battery_kw": power.battery_kw,
            },
        )
        if self.publisher is not None:
            self.publisher.offer(self.site.readings(power))

    def _collect(self, a: _Active, last: datetime, now: datetime) -> None:
        delta = a.vehicle.energy_drawn_kwh - a.seen_kwh
        if delta <= 0:
            return
        a.seen_kwh += delta
        if a.port.is_dcfc:
            self._dcfc_kwh += delta
        else:
            self._ev_kwh += delta
        if delta > 1e-7:
            a.record.charge_start = a.record.charge_start or last
            a.record.charge_end = now

    async def _arrivals(self, now: datetime) -> None:
        while self._pending and self._pending[0].arrival <= now:
            s = self._pending.pop(0)
            if s.departure <= now:
                continue  # came and went before the run reached it
            rec = SessionRecord(
                session_id=s.session_id,
                vehicle_id=f"EV-{s.session_id}",
                vehicle_type=s.vehicle_type,
                arrival=s.arrival,
                departure=s.departure,
                energy_requested_kwh=s.energy_kwh,
                arrival_soc_pct=s.arrival_soc_pct,
                source=s.source,
            )
            self.output.sessions.append(rec)
            port = self.pool.allocate(s)
            if port is None:
                rec.status, rec.max_power_kw = "no_free_port", 0.0
                log.info("no_free_port", session_id=s.session_id, target=s.station or s.group)
                continue
            vehicle = make_vehicle(s, self.plan.vehicle_spec(s.vehicle_type), port)
            rec.arrival_soc_pct = vehicle.soc_pct or 0.0
            rec.id_token = vehicle.id_token
            rec.station_id, rec.connector_id = port.station_id, port.connector_id
            rec.station_type, rec.group = port.station_type, port.group
            rec.max_power_kw = min(port.max_power_kw, vehicle.max_power_kw())
            rec.plugged_in_at, rec.status = now, "plugged"
            active = _Active(s, port, vehicle, rec)
            if await self.stations.plug_in(port, vehicle):
                self.active[s.session_id] = active
            else:
                # refused (e.g. not authorized): the car leaves the port at once
                await self.stations.unplug(port)
                self.pool.release(port)
                rec.status, rec.unplugged_at = "rejected", now

    async def _departures(self, now: datetime, *, all_: bool = False) -> None:
        for sid in [k for k, a in self.active.items() if all_ or a.session.departure <= now]:
            a = self.active.pop(sid)
            await self.stations.unplug(a.port)
            self._collect(a, now, now)  # what the station integrated while unplugging
            self.pool.release(a.port)
            v, rec = a.vehicle, a.record
            rec.unplugged_at = now
            rec.status = "plugged_at_end" if all_ and a.session.departure > now else "completed"
            rec.energy_delivered_kwh = round(v.energy_drawn_kwh, 5)
            rec.departure_soc_pct = None if v.soc_pct is None else round(v.soc_pct, 3)
            rec.interruptions, rec.gave_up, rec.stop_reason = (
                v.interruptions,
                v.gave_up,
                v.stop_reason,
            )

    async def _finish(self, now: datetime) -> None:
        """Unplug whoever is still there (so the CSMS sees every transaction end)."""
        await self._departures(now, all_=True)
        # what the stations integrated while unplugging at the end goes into the last tick
        # (not a tick past the end), so the intervals add up to the delivered energy
        if self._last_span is not None and (self._ev_kwh or self._dcfc_kwh):
            t0, t1 = self._last_span
            h = (t1 - t0).total_seconds() / 3600.0
            ev_kw, dcfc_kw = (self._ev_kwh + self._dcfc_kwh) / h, self._dcfc_kwh / h
            self.output.add_power(t0, t1, {"site_kw": ev_kw, "ev_kw": ev_kw, "dcfc_kw": dcfc_kw})
            self._ev_kwh = self._dcfc_kwh = 0.0
