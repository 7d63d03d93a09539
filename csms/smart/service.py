"""The version-neutral smart-charging API: limits in kW in, charging profiles out.

:class:`SmartCharging` is registered as ``registry["smart"]``; the MQTT bridge and
tests call :meth:`set_limit`, :meth:`install_safe_limits`, :meth:`clear_limit` and
:meth:`get_composite_schedule`. Profile events and alarms go to every listener
added with :meth:`subscribe` (listeners must not block).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from csms.errors import OcppCallError, StationOffline
from csms.ports import StationDirectory, StationSession
from csms.smart import capabilities as caps_mod
from csms.smart import maintenance, plan, setting
from csms.smart.capabilities import Capabilities
from csms.smart.config import SmartChargingSection
from csms.smart.electrical import (
    EV_NEEDS_PHASES,
    CurrentType,
    PhasesSource,
    PhaseTracker,
    current_type_from_meter,
    current_type_from_needs,
    phases_from_meter,
    resolve_phases,
)
from csms.smart.episodes import EpisodeStore
from csms.smart.errors import LimitRejected
from csms.smart.metrics import SmartMetrics
from csms.smart.monitor import OverLimitMonitor
from csms.smart.profiles import (
    composite_request,
    ocpp_time,
    parse_composite,
    rejection_reason,
    unreadable_limit,
)
from csms.smart.store import ProfileStore, Record
from csms.smart.units import limit_to_kw
from csms.smart.verify import verify_installed
from evcommon import contract
from evcommon.clock import Clock
from evcommon.logs import get_logger

log = get_logger(__name__)
NOT_SUPPORTED = ("NotImplemented", "NotSupported")

SmartEvent = contract.ProfileEvent | contract.Alarm


@dataclass
class Electrical:
    voltage_v: float
    phases: int  # used for conversion (1 for DC: P = V x I)
    number_phases: int | None  # sent in the profile (None: the station assumes 3; never DC)
    current_type: CurrentType = "AC"
    phases_source: PhasesSource = "default"


class SmartCharging:
    def __init__(
        self,
        settings: SmartChargingSection,
        directory: StationDirectory,
        store: ProfileStore,
        clock: Clock,
        metrics: SmartMetrics | None = None,
        episodes: EpisodeStore | None = None,
        open_episodes: set[tuple[str, int]] | None = None,
    ):
        self.metrics = metrics or SmartMetrics()
        self.settings = settings
        self.directory = directory
        self.store = store
        self.clock = clock
        self._listeners: list[Callable[[SmartEvent], None]] = []
        self._caps: dict[str, Capabilities] = {}
        self._voltage_v: dict[str, float] = {}
        self._phases: dict[tuple[str, int], PhaseTracker] = {}  # learned from MeterValues
        self._phases_ev: dict[tuple[str, int], int] = {}  # from NotifyEVChargingNeeds
        self._current_type: dict[str, CurrentType] = {}  # learned, until the next boot
        self._tx: dict[tuple[str, int], str] = {}
        self._disabled: dict[str, str] = {}  # station -> reason, until its next boot
        self._disabled_reported: set[str] = set()
        self._accepted_since_boot: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self.monitor = OverLimitMonitor(
            settings,
            store.records,
            self._emit,
            self.metrics,
            self.transaction_of,
            episodes,
            open_episodes,
        )

    # -- plumbing -----------------------------------------------------------
    def subscribe(self, listener: Callable[[SmartEvent], None]) -> None:
        self._listeners.append(listener)

    def _emit(self, event: SmartEvent) -> None:
        event = event.model_copy(update={"ts": self.clock.now()})  # simulated time in sims
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a broken listener must not break the OCPP path
                log.exception("smart-charging listener failed", station_id=event.station_id)

    def _session(self, station_id: str) -> StationSession:
        session = self.directory.session(station_id)
        if session is None or not session.online:
            raise StationOffline(station_id)
        return session

    def _lock(self, station_id: str) -> asyncio.Lock:
        return self._locks.setdefault(station_id, asyncio.Lock())

    async def _call(self, session: StationSession, action: str, payload: dict[str, Any]) -> Any:
        return await session.call(action, payload, timeout_s=self.settings.call_timeout_s)

    async def capabilities(self, session: StationSession) -> Capabilities:
        """Read (once per boot) what the station allows; unreadable means defaults."""
        cached = self._caps.get(session.station_id)
        if cached is not None:
            return cached
        action, payload = caps_mod.request(session.ocpp_version)
        try:
            found = caps_mod.parse(session.ocpp_version, await self._call(session, action, payload))
        except OcppCallError as exc:
            log.warning("capabilities unreadable", station_id=session.station_id, error=str(exc))
            found = caps_mod.UNKNOWN
        log.info(
            "smart-charging capabilities",
            station_id=session.station_id,
            rate_units=sorted(found.rate_units),
            max_stack_level=found.max_stack_level,
            max_periods=found.max_periods,
            enabled=found.smart_charging_enabled,
        )
        self._caps[session.station_id] = found
        return found

    def electrical(
        self, station_id: str, number_phases: int | None, connector_id: int = 0
    ) -> Electrical:
        """Voltage: the station's config section, else what it reported, else the default.
        DC (config ``current_type``, else learned): one "phase", numberPhases never sent.
        Phases: the request's number_phases, else the station's config section, else the
        EV's charging needs, else what the connector's meter values show (see
        :class:`PhaseTracker`), else the default."""
        entry = self.settings.station(station_id)
        voltage_v = entry.voltage_v or self._voltage_v.get(
            station_id, self.settings.default_voltage_v
        )
        current_type = entry.current_type or self._current_type.get(station_id, "AC")
        if current_type == "DC":
            return Electrical(voltage_v, 1, None, "DC", "dc")
        phases, source = self._phases_of(station_id, connector_id, number_phases)
        sent = number_phases if number_phases is not None else (None if phases == 3 else phases)
        return Electrical(voltage_v, phases, sent, "AC", source)

    def _phases_of(
        self, station_id: str, connector_id: int, number_phases: int | None
    ) -> tuple[int, PhasesSource]:
        key = (station_id, connector_id)
        tracker = self._phases.get(key)
        return resolve_phases(
            requested=number_phases,
            configured=self.settings.station(station_id).phases,
            ev_needs=self._phases_ev.get(key),
            metered=tracker.learned if tracker is not None else None,
            default=self.settings.default_phases,
        )

    def _learn_current_type(
        self, station_id: str, found: tuple[CurrentType, dict[str, Any]] | None, via: str
    ) -> None:
        """Decide AC/DC once per boot (a config override wins), logged with the evidence.
        The meter decides only while nothing else has; the EV's energyTransferMode is
        the stronger evidence and may correct it."""
        if found is None:
            return
        kind, evidence = found
        known = self._current_type.get(station_id)
        if known == kind or (known is not None and via != "ev_needs"):
            return
        self._current_type[station_id] = kind
        configured = self.settings.station(station_id).current_type
        log.info(
            "station current type",
            station_id=station_id,
            current_type=configured or kind,
            detected=kind,
            via=via,
            previous=known,
            overridden_by_config=configured is not None and configured != kind,
            **evidence,
        )

    # -- set -------------------------------------------------------------------
    async def set_limit(self, cmd: contract.SetLimit, *, fallback: bool = True) -> dict[str, Any]:
        """Install a kW limit; returns what was installed. Raises InvalidLimit,
        LimitRejected (with the station's reasons), NotSupported, StationOffline,
        CallTimeout."""
        now = self.clock.now()
        periods_kw = plan.validate(cmd, now)
        session = self._session(cmd.station_id)
        async with self._lock(cmd.station_id):
            if cmd.station_id in self._disabled:
                raise LimitRejected(
                    f"load management is disabled on the station "
                    f"({self._disabled[cmd.station_id]}); not retried until it reboots"
                )
            caps = await self.capabilities(session)
            if caps.smart_charging_enabled is False:
                self._mark_disabled(cmd, "SmartChargingCtrlr is not enabled/available")
                raise LimitRejected(
                    "smart charging is disabled on the station (SmartChargingCtrlr)"
                )
            return await setting.install(self, session, cmd, periods_kw, caps, fallback=fallback)

    def _refused(self, cmd: contract.SetLimit, attempts: list[dict[str, Any]]) -> None:
        summary = "; ".join(f"{a['purpose']}: {a['reason']}" for a in attempts)
        self._emit(
            contract.ProfileEvent(
                station_id=cmd.station_id,
                connector_id=cmd.connector_id,
                event="rejected",
                purpose=cmd.purpose,
                limit_kw=cmd.periods()[0].limit_kw,
                valid_to=cmd.valid_to,
                reason=summary,
            )
        )
        self._emit(
            contract.Alarm(
                station_id=cmd.station_id,
                connector_id=cmd.connector_id,
                kind="profile_rejected",
                message=f"station refused the limit ({summary})",
            )
        )
        # Quirk: a station whose own settings disable external load management refuses
        # every purpose. Report it once and stop sending until it reboots.
        every_rejected = all(a["status"] == "Rejected" for a in attempts)
        if (
            len(attempts) >= 2
            and every_rejected
            and cmd.station_id not in self._accepted_since_boot
        ):
            self._mark_disabled(cmd, f"every purpose rejected ({summary})")
        raise LimitRejected(f"station rejected the limit: {summary}", attempts)

    def _mark_disabled(self, cmd: contract.SetLimit, reason: str) -> None:
        self._disabled[cmd.station_id] = reason
        if cmd.station_id in self._disabled_reported:
            return
        self._disabled_reported.add(cmd.station_id)
        log.warning("load management disabled on station", station_id=cmd.station_id, reason=reason)
        self._emit(
            contract.ProfileEvent(
                station_id=cmd.station_id,
                connector_id=0,
                event="load_management_disabled",
                reason=reason,
            )
        )

    def _emit_profile(self, rec: Record, event: str, reason: str | None = None) -> None:
        self._emit(
            contract.ProfileEvent(
                station_id=rec.station_id,
                connector_id=rec.connector_id,
                event=event,  # type: ignore[arg-type]
                purpose=rec.purpose,  # type: ignore[arg-type]
                profile_id=rec.profile_id,
                limit_kw=rec.periods_kw[0].limit if rec.periods_kw else None,
                valid_to=rec.valid_to,
                reason=reason,
            )
        )

    async def _verify(
        self, session: StationSession, rec: Record, kind: str, cmd: contract.SetLimit
    ) -> dict[str, Any]:
        if not self.settings.verify:
            return {"status": "skipped", "reason": "verify is off"}
        result = await verify_installed(self, session, rec, kind, cmd)
        if result["status"] == "mismatch":
            # the mismatch ProfileEvent follows the "installed" one (setting._installed)
            log.warning("composite schedule mismatch", station_id=rec.station_id, **result)
        return result

    # -- composite ---------------------------------------------------------------
    async def get_composite_schedule(self, cmd: contract.GetCompositeSchedule) -> dict[str, Any]:
        session = self._session(cmd.station_id)
        payload = composite_request(
            session.ocpp_version, cmd.connector_id, cmd.duration_s, cmd.rate_unit
        )
        response = await self._call(session, "GetCompositeSchedule", payload)
        comp = parse_composite(session.ocpp_version, response, cmd.connector_id)
        if comp is None:
            raise LimitRejected(f"station answered {rejection_reason(response)}")
        elec = self.electrical(cmd.station_id, None, cmd.connector_id)
        periods = []
        for i, p in enumerate(comp.periods):
            phases = comp.number_phases[i] if i < len(comp.number_phases) else None
            if unreadable_limit(p.limit, phases):
                # "no limit" in the station's words: never forward a negative value
                periods.append({"start_s": p.start_s, "limit": None, "limit_kw": None})
                continue
            kw = limit_to_kw(
                p.limit, comp.rate_unit, voltage_v=elec.voltage_v, phases=phases or elec.phases
            )
            out: dict[str, Any] = {"start_s": p.start_s, "limit": p.limit, "limit_kw": round(kw, 3)}
            if phases is not None:
                out["number_phases"] = phases
            periods.append(out)
        return {
            "connector_id": comp.connector_id,
            "rate_unit": comp.rate_unit,
            "schedule_start": ocpp_time(comp.start) if comp.start else None,
            "duration_s": comp.duration_s,
            "periods": periods,
        }

    # -- clear, safe limits, boot, events (csms.smart.maintenance) -------------
    async def clear_limit(self, cmd: contract.ClearLimit) -> dict[str, Any]:
        async with self._lock(cmd.station_id):
            return await maintenance.clear_limit(self, cmd)

    async def install_safe_limits(self, cmd: contract.InstallSafeLimits) -> dict[str, Any]:
        return await maintenance.install_safe_limits(self, cmd)

    async def station_booted(self, session: StationSession) -> None:
        """A (re)booted station: forget what we learned about it, re-install profiles."""
        station_id = session.station_id
        self._caps.pop(station_id, None)
        self._disabled.pop(station_id, None)
        self._accepted_since_boot.discard(station_id)
        await self.monitor.forget(station_id, self.clock.now())
        for key in [k for k in self._tx if k[0] == station_id]:
            del self._tx[key]
        self._current_type.pop(station_id, None)
        for pkey in [k for k in self._phases if k[0] == station_id]:
            del self._phases[pkey]
        for ekey in [k for k in self._phases_ev if k[0] == station_id]:
            del self._phases_ev[ekey]
        if self.settings.reinstall_on_boot:
            async with self._lock(station_id):
                await maintenance.reinstall(self, session)

    def transaction_of(self, station_id: str, connector_id: int) -> str | None:
        """The transaction running on a connector, as far as we know."""
        return self._tx.get((station_id, connector_id))

    async def on_transaction(self, event: contract.TransactionEvent) -> None:
        key = (event.station_id, event.connector_id)
        if event.event == "ended":
            self._phases_ev.pop(key, None)  # the next vehicle says its own
            if self._tx.get(key) == event.transaction_id:
                del self._tx[key]
        else:
            self._tx[key] = event.transaction_id
        await self._drop_stale_tx_profiles(event)

    async def _drop_stale_tx_profiles(self, event: contract.TransactionEvent) -> None:
        """The station drops a TxProfile when its transaction ends (OCPP 1.6 3.13.2,
        2.0.1 K01), so our record goes too: on the end of its transaction, or when
        another one starts on its connector (the end may have been missed)."""

        def stale(r: Record) -> bool:
            if r.purpose != "tx" or r.connector_id != event.connector_id:
                return False
            if event.event == "ended":
                return r.transaction_id in (None, event.transaction_id)
            return r.transaction_id not in (None, event.transaction_id)

        ids = [r.profile_id for r in self.store.records(event.station_id) if stale(r)]
        if ids:
            log.info(
                "transaction over, TxProfile record dropped",
                station_id=event.station_id,
                transaction_id=event.transaction_id,
                profile_ids=ids,
            )
            await self.store.remove(event.station_id, ids)

    async def on_meter(self, event: contract.MeterValuesEvent) -> None:
        self.observe_meter(event)
        await self.monitor.check(event, self.clock.now())

    def observe_meter(self, event: contract.MeterValuesEvent) -> None:
        """What a meter sample tells about the station: voltage, AC/DC, phases."""
        if event.voltage_v is not None and event.voltage_v > 50:
            self._voltage_v[event.station_id] = event.voltage_v
        self._learn_current_type(event.station_id, current_type_from_meter(event), "meter")
        self._observe_phases(event)
        if event.transaction_id is not None and event.connector_id > 0:
            self._tx.setdefault((event.station_id, event.connector_id), event.transaction_id)

    def _observe_phases(self, event: contract.MeterValuesEvent) -> None:
        key = (event.station_id, event.connector_id)
        tracker = self._phases.setdefault(key, PhaseTracker())
        before = tracker.learned
        if tracker.observe(phases_from_meter(event)):
            log.info(
                "phase count learned from meter values",
                station_id=event.station_id,
                connector_id=event.connector_id,
                phases=tracker.learned,
                previous=before,
            )

    def on_ev_needs(self, event: contract.EVChargingNeeds) -> None:
        """2.0.1 NotifyEVChargingNeeds: energyTransferMode says DC, or the AC phases."""
        found = current_type_from_needs(event)
        self._learn_current_type(event.station_id, found, "ev_needs")
        phases = EV_NEEDS_PHASES.get(event.energy_transfer_mode or "")
        if phases is not None:
            self._phases_ev[(event.station_id, event.connector_id)] = phases
