"""Clearing limits, the safe limit, and re-installing profiles after a reboot.

* ClearChargingProfile by criteria answered ``Unknown`` (some stations match
  criteria badly): clear every matching profile of our record by id, then read
  the composite schedule to verify the limit is gone.
* Re-install after BootNotification: a rebooted station may have lost its
  profiles. The capabilities are read again, then every recorded, unexpired
  profile is re-sent as it was accepted, or with its recorded kW re-converted
  when the station no longer supports its unit; TxProfiles are dropped (their
  transaction ended with the reboot), and so is every record the station refuses.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from csms.errors import CsmsError, OcppCallError
from csms.ports import StationSession
from csms.smart.errors import InvalidLimit, LimitRejected
from csms.smart.profiles import PURPOSES, Period, clear_requests, rejection_reason
from csms.smart.store import Record
from csms.smart.units import RateUnit, choose_rate_unit, kw_to_limit, limit_to_kw
from csms.smart.verify import read_composite_kw
from evcommon import contract
from evcommon.logs import get_logger

if TYPE_CHECKING:
    from csms.smart.service import SmartCharging

log = get_logger(__name__)


async def clear_limit(svc: SmartCharging, cmd: contract.ClearLimit) -> dict[str, Any]:
    session = svc._session(cmd.station_id)
    version = session.ocpp_version
    matching = [
        r
        for r in svc.store.records(cmd.station_id)
        if (cmd.profile_id is None or r.profile_id == cmd.profile_id)
        and (cmd.connector_id is None or r.connector_id == cmd.connector_id)
        and (cmd.purpose is None or r.purpose == cmd.purpose)
    ]
    if cmd.profile_id is not None and not matching:
        # only ids we installed: an arbitrary id could be ChargingStationExternalConstraints
        raise InvalidLimit("profile_id", "not a profile this CSMS installed on the station")
    statuses: list[dict[str, Any]] = []
    unknown: set[str] = set()  # purposes whose by-criteria clear answered Unknown
    for purpose in _purposes(cmd):
        for req in clear_requests(
            version, profile_id=cmd.profile_id, connector_id=cmd.connector_id, purpose=purpose
        ):
            response = await svc._call(session, "ClearChargingProfile", req)
            statuses.append({"request": req, "status": response.get("status")})
            if response.get("status") == "Unknown" and purpose is not None:
                unknown.add(purpose)
    # quirk: criteria answered Unknown although we installed matching profiles. Unknown
    # is the right answer for a purpose with nothing installed, so only the records of
    # the purposes that answered it are cleared again, one by id each.
    for rec in (r for r in matching if r.purpose in unknown):
        (req,) = clear_requests(version, profile_id=rec.profile_id)
        response = await svc._call(session, "ClearChargingProfile", req)
        statuses.append({"request": req, "status": response.get("status")})
    cleared = [r.profile_id for r in matching]
    await svc.store.remove(cmd.station_id, cleared)
    for rec in matching:
        svc._emit_profile(rec, "cleared")
    verification: dict[str, Any] = {"status": "skipped"}
    if svc.settings.verify and matching:
        verification = await _verify_cleared(svc, session, matching)
    accepted = any(s["status"] == "Accepted" for s in statuses)
    return {
        "status": "Accepted" if accepted else "Unknown",
        "cleared_profile_ids": cleared,
        "requests": statuses,
        "verification": verification,
    }


def _purposes(cmd: contract.ClearLimit) -> list[Any]:
    """One by-criteria clear per purpose we own (never one without a purpose); a clear
    by id needs none."""
    if cmd.profile_id is not None:
        return [None]
    return [cmd.purpose] if cmd.purpose is not None else list(PURPOSES)


_VERIFY_RANK = {"ok": 0, "skipped": 1, "unsupported": 2, "unavailable": 3, "failed": 4}


async def _verify_cleared(
    svc: SmartCharging, session: StationSession, cleared: list[Record]
) -> dict[str, Any]:
    """Read back every connector a cleared profile was on; the worst status is the
    overall one (``suspect`` worst of all), the per-connector reads are kept."""
    per: dict[int, dict[str, Any]] = {}
    for connector in sorted({r.connector_id for r in cleared}):
        on = [r for r in cleared if r.connector_id == connector]
        per[connector] = await _verify_connector(svc, session, connector, on)
    worst = max(per.values(), key=lambda v: _VERIFY_RANK.get(v["status"], 5))
    return {**worst, "connectors": {str(c): v for c, v in per.items()}}


async def _verify_connector(
    svc: SmartCharging, session: StationSession, connector: int, cleared: list[Record]
) -> dict[str, Any]:
    now = svc.clock.now()
    read = await read_composite_kw(svc, session, connector, None)
    if read["status"] != "read" or read["composite_kw"] is None:
        return {**read, "status": "ok" if read["status"] == "read" else read["status"]}
    still = [
        r.profile_id
        for r in cleared
        if (lim := r.limit_kw_at(now)) is not None
        and abs(lim - read["composite_kw"]) <= max(0.05, 0.02 * lim)
        and r.stack_level >= 0
    ]
    # a composite equal to a cleared limit may be coincidence (e.g. the safe limit has
    # the same value); report it but do not claim more than that
    if still:
        return {**read, "connector_id": connector, "status": "suspect", "matches_cleared": still}
    return {**read, "connector_id": connector, "status": "ok"}


async def install_safe_limits(
    svc: SmartCharging, cmd: contract.InstallSafeLimits
) -> dict[str, Any]:
    """Station max (if given) and a TxDefault on connector 0, stack level 0, no expiry:
    what the station enforces by itself when the edge or the broker is gone. The max
    profile is not moved down the fallback chain here: the TxDefault follows anyway."""
    out: dict[str, Any] = {}
    if cmd.station_max_kw is not None:
        max_cmd = contract.SetLimit(
            correlation_id=cmd.correlation_id,
            station_id=cmd.station_id,
            connector_id=0,
            purpose="station_max",
            limit_kw=cmd.station_max_kw,
            stack_level=0,
        )
        try:
            out["station_max"] = await svc.set_limit(max_cmd, fallback=False)
        except LimitRejected as exc:
            out["station_max"] = {"status": "rejected", "reason": str(exc)}
    default_cmd = contract.SetLimit(
        correlation_id=cmd.correlation_id,
        station_id=cmd.station_id,
        connector_id=0,
        purpose="tx_default",
        limit_kw=cmd.connector_default_kw,
        stack_level=0,
    )
    out["tx_default"] = await svc.set_limit(default_cmd, fallback=False)
    return out


def _schedules(version: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    profile = request["csChargingProfiles" if version == "1.6" else "chargingProfile"]
    sched = profile["chargingSchedule"]
    return [sched] if isinstance(sched, dict) else list(sched)


def _reconverted(svc: SmartCharging, rec: Record, unit: RateUnit) -> Record:
    """``rec`` with its request's limits re-converted from the recorded kW to ``unit``."""
    request = copy.deepcopy(rec.request)
    periods_kw: list[Period] = []
    for sched in _schedules(rec.ocpp_version, request):
        sched["chargingRateUnit"] = unit
        for i, period in enumerate(sched.get("chargingSchedulePeriod") or []):
            elec = svc.electrical(rec.station_id, period.get("numberPhases"), rec.connector_id)
            kw = rec.periods_kw[i].limit if i < len(rec.periods_kw) else 0.0
            period["limit"] = kw_to_limit(kw, unit, voltage_v=elec.voltage_v, phases=elec.phases)
            if len(periods_kw) <= i:
                periods_kw.append(
                    Period(
                        int(period["startPeriod"]),
                        limit_to_kw(
                            period["limit"], unit, voltage_v=elec.voltage_v, phases=elec.phases
                        ),
                    )
                )
    return replace(rec, rate_unit=unit, periods_kw=periods_kw, request=request)


async def reinstall(svc: SmartCharging, session: StationSession) -> None:
    """Re-send the recorded profiles after a boot, in a unit the station supports now
    (capabilities are re-read first: new firmware or a replaced box may take only A).
    A record the station refuses is removed: it is no basis for the over-limit check."""
    station_id = session.station_id
    now = svc.clock.now()
    records = svc.store.records(station_id)
    stale = [
        r.profile_id
        for r in records
        if r.purpose == "tx"
        or (r.valid_to is not None and r.valid_to <= now)
        or r.ocpp_version != session.ocpp_version
    ]
    await svc.store.remove(station_id, stale)
    if not svc.store.records(station_id):
        return
    try:
        caps = await svc.capabilities(session)
    except CsmsError as exc:
        log.warning("re-install interrupted", station_id=station_id, error=str(exc))
        return
    forced = svc.settings.station(station_id).rate_unit
    for rec in svc.store.records(station_id):
        unit: RateUnit = "A" if rec.rate_unit == "A" else "W"
        if forced is not None or (caps.known and unit not in caps.rate_units):
            unit = choose_rate_unit(caps.rate_units, forced)
        sent = rec if unit == rec.rate_unit else _reconverted(svc, rec, unit)
        try:
            response = await svc._call(session, "SetChargingProfile", sent.request)
            status = str(response.get("status"))
            reason = rejection_reason(response)
        except OcppCallError as exc:
            status, reason = "CallError", str(exc)
        except CsmsError as exc:
            log.warning("re-install interrupted", station_id=station_id, error=str(exc))
            return
        svc.metrics.profiles.labels(session.ocpp_version, rec.purpose, status).inc()
        if status == "Accepted":
            svc._accepted_since_boot.add(station_id)
            if sent is not rec:
                await svc.store.save(sent)
            svc._emit_profile(sent, "reinstalled")
            log.info(
                "profile re-installed",
                station_id=station_id,
                profile_id=rec.profile_id,
                rate_unit=unit,
            )
            continue
        # not installed: drop the record, or the monitor would hold the station to it
        await svc.store.remove(station_id, [rec.profile_id])
        svc._emit_profile(rec, "rejected", reason=f"re-install after boot: {reason}")
        svc._emit(
            contract.Alarm(
                station_id=station_id,
                connector_id=rec.connector_id,
                kind="profile_rejected",
                message=f"profile {rec.profile_id} not re-installed after boot: {reason}",
            )
        )
