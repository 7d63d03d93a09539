"""Read back what a station will do: GetCompositeSchedule after setting or clearing.

The composite schedule is read in *its own* unit (some stations answer in A when
asked for W), converted to kW with the same voltage and the composite's own
numberPhases (absent: the station's configured phases), and compared with the
limit we expect in force now (our profile capped by any station max we installed):

* ``ok``: within max(0.05 kW, 2 %);
* ``lower``: the station limits more (its hardware rating or a profile of its own);
* ``mismatch``: the station would allow *more* than we installed -> ProfileEvent;
* ``unsupported`` / ``unavailable`` / ``failed`` / ``skipped``: not verifiable, with why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from csms.errors import CsmsError, OcppCallError
from csms.ports import StationSession
from csms.smart.monitor import effective_limit
from csms.smart.profiles import (
    composite_request,
    parse_composite,
    rejection_reason,
    unreadable_limit,
)
from csms.smart.store import Record
from csms.smart.units import limit_to_kw
from evcommon import contract

if TYPE_CHECKING:
    from csms.smart.service import SmartCharging


async def read_composite_kw(
    svc: SmartCharging, session: StationSession, connector_id: int, unit: str | None
) -> dict[str, Any]:
    """{"status": "read", "composite_kw": ...} or a not-verifiable status."""
    req = composite_request(
        session.ocpp_version,
        connector_id,
        svc.settings.verify_duration_s,
        "A" if unit == "A" else "W" if unit == "W" else None,
    )
    try:
        response = await session.call(
            "GetCompositeSchedule", req, timeout_s=svc.settings.call_timeout_s
        )
    except OcppCallError as exc:
        status = "unsupported" if exc.code in ("NotImplemented", "NotSupported") else "failed"
        return {"status": status, "reason": str(exc)}
    except CsmsError as exc:
        return {"status": "failed", "reason": str(exc)}
    comp = parse_composite(session.ocpp_version, response, connector_id)
    if comp is None:
        return {"status": "unavailable", "reason": rejection_reason(response)}
    now = svc.clock.now()
    offset = max(0.0, (now - comp.start).total_seconds()) if comp.start else 0.0
    got = comp.limit_at(offset)
    if got is None:
        return {"status": "read", "composite_kw": None, "composite_unit": comp.rate_unit}
    if unreadable_limit(*got):
        return {
            "status": "unavailable",
            "reason": f"composite limit {got[0]} with numberPhases {got[1]} (no limit reported)",
        }
    elec = svc.electrical(session.station_id, None, connector_id)
    kw = limit_to_kw(got[0], comp.rate_unit, voltage_v=elec.voltage_v, phases=got[1] or elec.phases)
    return {
        "status": "read",
        "composite_kw": round(kw, 3),
        "composite_limit": got[0],
        "composite_unit": comp.rate_unit,
    }


async def verify_installed(
    svc: SmartCharging,
    session: StationSession,
    rec: Record,
    kind: str,
    cmd: contract.SetLimit,
) -> dict[str, Any]:
    now = svc.clock.now()
    if kind == "relative":
        return {"status": "skipped", "reason": "relative schedules start with a transaction"}
    if cmd.valid_from is not None and cmd.valid_from > now:
        return {"status": "skipped", "reason": "valid_from is in the future"}
    if rec.connector_id == 0 and rec.purpose != "station_max":
        return {"status": "skipped", "reason": "connector 0 TxDefault applies per connector"}
    others = [r for r in svc.store.records(rec.station_id) if r.profile_id != rec.profile_id]
    current_tx = svc.transaction_of(rec.station_id, rec.connector_id)
    expected = effective_limit([*others, rec], rec.connector_id, now, current_tx)
    read = await read_composite_kw(svc, session, rec.connector_id, rec.rate_unit)
    if read["status"] != "read":
        return read
    if expected is None:
        return {**read, "status": "skipped", "reason": "no limit expected now"}
    expected_kw = expected[0]
    composite_kw = read["composite_kw"]
    out = {**read, "expected_kw": round(expected_kw, 3)}
    tolerance_kw = max(0.05, 0.02 * expected_kw)
    if composite_kw is None:
        return {**out, "status": "mismatch", "reason": "composite schedule has no period now"}
    if composite_kw > expected_kw + tolerance_kw:
        return {
            **out,
            "status": "mismatch",
            "reason": f"composite {composite_kw:.2f} kW above installed {expected_kw:.2f} kW",
        }
    if composite_kw < expected_kw - tolerance_kw:
        return {**out, "status": "lower"}
    return {**out, "status": "ok"}
