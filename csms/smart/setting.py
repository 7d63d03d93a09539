"""Installing a version-neutral limit on a station: negotiate, convert, walk the
fallback chain, record, verify (the set path of :class:`SmartCharging`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from csms.errors import OcppCallError
from csms.ports import StationSession
from csms.smart import plan
from csms.smart.capabilities import Capabilities
from csms.smart.errors import NotSupported
from csms.smart.profiles import (
    OCPP_PURPOSE,
    Period,
    ProfileSpec,
    rejection_reason,
    set_profile_request,
)
from csms.smart.store import Record
from csms.smart.units import RateUnit, choose_rate_unit, limit_to_kw
from evcommon import contract
from evcommon.contract import LimitPurpose
from evcommon.logs import get_logger

if TYPE_CHECKING:
    from csms.smart.service import Electrical, SmartCharging

log = get_logger(__name__)
NOT_SUPPORTED = ("NotImplemented", "NotSupported")


@dataclass(frozen=True)
class Prepared:
    now: datetime
    elec: Electrical
    unit: RateUnit
    schedule: plan.ConvertedSchedule
    level: int
    tx_id: str | None
    chain: list[LimitPurpose]


def prepare(
    svc: SmartCharging,
    cmd: contract.SetLimit,
    periods_kw: list[contract.SchedulePeriod],
    caps: Capabilities,
    *,
    fallback: bool,
) -> Prepared:
    elec = svc.electrical(cmd.station_id, cmd.number_phases, cmd.connector_id)
    unit = choose_rate_unit(caps.rate_units, svc.settings.station(cmd.station_id).rate_unit)
    schedule = plan.convert_schedule(
        periods_kw,
        unit,
        voltage_v=elec.voltage_v,
        phases=elec.phases,
        max_periods=caps.max_periods,
    )
    level = plan.stack_level(cmd.stack_level, svc.settings.default_stack_level, caps)
    tx_id = svc._tx.get((cmd.station_id, cmd.connector_id))
    chain = plan.fallback_chain(cmd.purpose, cmd.connector_id, tx_id)
    return Prepared(
        svc.clock.now(), elec, unit, schedule, level, tx_id, chain if fallback else chain[:1]
    )


async def install(
    svc: SmartCharging,
    session: StationSession,
    cmd: contract.SetLimit,
    periods_kw: list[contract.SchedulePeriod],
    caps: Capabilities,
    *,
    fallback: bool,
) -> dict[str, Any]:
    p = prepare(svc, cmd, periods_kw, caps, fallback=fallback)
    attempts: list[dict[str, Any]] = []
    for purpose in p.chain:
        spec = plan.build_spec(
            cmd,
            purpose,
            unit=p.unit,
            schedule=p.schedule,
            level=p.level,
            id_base=svc.settings.profile_id_base,
            number_phases=p.elec.number_phases,
            transaction_id=p.tx_id,
            start=p.now,
        )
        payload = set_profile_request(spec, session.ocpp_version, p.now)
        status, reason = await _attempt(svc, session, purpose, payload)
        attempts.append({"purpose": purpose, "status": status, "reason": reason})
        if status == "Accepted":
            return await _installed(svc, session, cmd, p, spec, payload, attempts)
        log.info("profile refused", station_id=cmd.station_id, purpose=purpose, reason=reason)
    svc._refused(cmd, attempts)  # raises LimitRejected
    raise AssertionError("unreachable")


async def _attempt(
    svc: SmartCharging, session: StationSession, purpose: str, payload: dict[str, Any]
) -> tuple[str, str]:
    """(status, reason) of one SetChargingProfile; a CALLERROR counts as a refusal
    (e.g. PropertyConstraintViolation), except NotImplemented/NotSupported."""
    try:
        response = await svc._call(session, "SetChargingProfile", payload)
        status, reason = str(response.get("status")), rejection_reason(response)
    except OcppCallError as exc:
        if exc.code in NOT_SUPPORTED:
            raise NotSupported(f"station does not support SetChargingProfile: {exc}") from exc
        status, reason = "CallError", str(exc)
    svc.metrics.profiles.labels(session.ocpp_version, purpose, status).inc()
    return status, reason


async def _installed(
    svc: SmartCharging,
    session: StationSession,
    cmd: contract.SetLimit,
    p: Prepared,
    spec: ProfileSpec,
    payload: dict[str, Any],
    attempts: list[dict[str, Any]],
) -> dict[str, Any]:
    svc._accepted_since_boot.add(cmd.station_id)
    elec = p.elec
    rec = Record(
        station_id=cmd.station_id,
        profile_id=spec.profile_id,
        connector_id=cmd.connector_id,
        purpose=spec.purpose,
        stack_level=p.level,
        rate_unit=p.unit,
        ocpp_version=session.ocpp_version,
        periods_kw=[
            Period(
                q.start_s,
                limit_to_kw(q.limit, p.unit, voltage_v=elec.voltage_v, phases=elec.phases),
            )
            for q in p.schedule.periods
        ],
        schedule_start=None if spec.effective_kind == "relative" else spec.start_schedule,
        valid_to=cmd.valid_to,
        transaction_id=spec.transaction_id,
        request=payload,
        installed_at=p.now,
    )
    verification = await svc._verify(session, rec, spec.effective_kind, cmd)
    rec.verification = verification["status"]
    await svc.store.save(rec)
    reason = None
    if spec.purpose != cmd.purpose:
        tried = "; ".join(f"{a['purpose']} {a['reason']}" for a in attempts[:-1])
        reason = f"fell back from {cmd.purpose}: {tried or 'no transaction'}"
    svc._emit_profile(rec, "installed", reason=reason)
    if verification["status"] == "mismatch":
        # after "installed": a consumer must know the profile before hearing it is off
        svc._emit_profile(rec, "mismatch", reason=verification.get("reason"))
    return {
        "profile_id": spec.profile_id,
        "purpose": spec.purpose,
        "ocpp_purpose": OCPP_PURPOSE[session.ocpp_version][spec.purpose],
        "connector_id": cmd.connector_id,
        "stack_level": p.level,
        "rate_unit": p.unit,
        "voltage_v": elec.voltage_v,
        "phases": elec.phases,
        "phases_source": elec.phases_source,
        "current_type": elec.current_type,
        "limits": [q.limit for q in p.schedule.periods],
        "limit_kw": rec.periods_kw[0].limit if rec.periods_kw else 0.0,
        "truncated_periods": p.schedule.truncated_periods,
        "attempts": attempts,
        "verification": verification,
    }
