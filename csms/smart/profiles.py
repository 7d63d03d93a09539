"""Charging-profile payloads for OCPP 1.6 and 2.0.1, built from plain data (pure).

Quirks handled here (see docs/smart-charging.md):

* max profiles (ChargePointMaxProfile / ChargingStationMaxProfile) are always
  sent Absolute: stations answer PropertyConstraintViolation to Relative ones;
* the CSMS never builds or clears ChargingStationExternalConstraints: clearing
  without a purpose is split into one request per purpose we own;
* limits carry at most one decimal (rounded down in :mod:`csms.smart.units`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from csms.smart.units import RateUnit
from evcommon.contract import LimitPurpose, OcppVersion

ProfileKind = Literal["absolute", "relative", "daily", "weekly"]
PURPOSES: tuple[LimitPurpose, ...] = ("station_max", "tx_default", "tx")
OCPP_PURPOSE: dict[OcppVersion, dict[LimitPurpose, str]] = {
    "1.6": {
        "station_max": "ChargePointMaxProfile",
        "tx_default": "TxDefaultProfile",
        "tx": "TxProfile",
    },
    "2.0.1": {
        "station_max": "ChargingStationMaxProfile",
        "tx_default": "TxDefaultProfile",
        "tx": "TxProfile",
    },
}
EXTERNAL_PURPOSE = "ChargingStationExternalConstraints"  # never set or cleared by us


def ocpp_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True)
class Period:
    start_s: int
    limit: float  # in the profile's rate unit


@dataclass(frozen=True)
class ProfileSpec:
    """One charging profile, version-neutral; limits already in ``rate_unit``."""

    profile_id: int
    connector_id: int
    purpose: LimitPurpose
    stack_level: int
    rate_unit: RateUnit
    periods: tuple[Period, ...]
    kind: ProfileKind = "absolute"
    start_schedule: datetime | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    duration_s: int | None = None
    number_phases: int | None = None
    transaction_id: str | None = None

    @property
    def effective_kind(self) -> ProfileKind:
        # quirk: max profiles are rejected when Relative; send them Absolute
        if self.purpose == "station_max" and self.kind == "relative":
            return "absolute"
        return self.kind


def profile_id_for(base: int, connector_id: int, purpose: LimitPurpose, stack_level: int) -> int:
    """Stable ids: the same connector/purpose/level replaces its previous profile."""
    return base + connector_id * 1000 + (PURPOSES.index(purpose) + 1) * 100 + stack_level


def _schedule(spec: ProfileSpec, version: OcppVersion, now: datetime) -> dict[str, Any]:
    periods = []
    for p in spec.periods:
        period: dict[str, Any] = {"startPeriod": int(p.start_s), "limit": p.limit}
        if spec.number_phases is not None:
            period["numberPhases"] = spec.number_phases
        periods.append(period)
    schedule: dict[str, Any] = {
        "chargingRateUnit": spec.rate_unit,
        "chargingSchedulePeriod": periods,
    }
    if version == "2.0.1":
        schedule = {"id": spec.profile_id, **schedule}
    if spec.effective_kind != "relative":
        schedule["startSchedule"] = ocpp_time(spec.start_schedule or spec.valid_from or now)
    if spec.duration_s is not None:
        schedule["duration"] = int(spec.duration_s)
    return schedule


def _profile(spec: ProfileSpec, version: OcppVersion, now: datetime) -> dict[str, Any]:
    kind = spec.effective_kind
    profile: dict[str, Any] = {
        "chargingProfileId" if version == "1.6" else "id": spec.profile_id,
        "stackLevel": spec.stack_level,
        "chargingProfilePurpose": OCPP_PURPOSE[version][spec.purpose],
        "chargingProfileKind": {"absolute": "Absolute", "relative": "Relative"}.get(
            kind, "Recurring"
        ),
    }
    if kind == "daily":
        profile["recurrencyKind"] = "Daily"
    elif kind == "weekly":
        profile["recurrencyKind"] = "Weekly"
    if spec.valid_from is not None:
        profile["validFrom"] = ocpp_time(spec.valid_from)
    if spec.valid_to is not None:
        profile["validTo"] = ocpp_time(spec.valid_to)
    if spec.purpose == "tx" and spec.transaction_id is not None:
        if version == "1.6":
            # a non-numeric id cannot be a 1.6 transaction id: leave it out
            if spec.transaction_id.isdigit():
                profile["transactionId"] = int(spec.transaction_id)
        else:
            profile["transactionId"] = spec.transaction_id
    schedule = _schedule(spec, version, now)
    profile["chargingSchedule"] = schedule if version == "1.6" else [schedule]
    return profile


def set_profile_request(spec: ProfileSpec, version: OcppVersion, now: datetime) -> dict[str, Any]:
    """The SetChargingProfile request payload for ``version``."""
    if version == "1.6":
        return {
            "connectorId": spec.connector_id,
            "csChargingProfiles": _profile(spec, version, now),
        }
    return {"evseId": spec.connector_id, "chargingProfile": _profile(spec, version, now)}


def clear_requests(
    version: OcppVersion,
    *,
    profile_id: int | None = None,
    connector_id: int | None = None,
    purpose: LimitPurpose | None = None,
) -> list[dict[str, Any]]:
    """ClearChargingProfile payloads. Never one without a purpose (that would also
    clear ChargingStationExternalConstraints): split into one per purpose we own."""
    if profile_id is not None:
        key = "id" if version == "1.6" else "chargingProfileId"
        return [{key: profile_id}]
    purposes = [purpose] if purpose is not None else list(PURPOSES)
    out: list[dict[str, Any]] = []
    for p in purposes:
        if version == "1.6":
            req: dict[str, Any] = {"chargingProfilePurpose": OCPP_PURPOSE[version][p]}
            if connector_id is not None:
                req["connectorId"] = connector_id
        else:
            criteria: dict[str, Any] = {"chargingProfilePurpose": OCPP_PURPOSE[version][p]}
            if connector_id is not None:
                criteria["evseId"] = connector_id
            req = {"chargingProfileCriteria": criteria}
        out.append(req)
    return out


def composite_request(
    version: OcppVersion, connector_id: int, duration_s: int, rate_unit: RateUnit | None
) -> dict[str, Any]:
    req: dict[str, Any] = {"duration": int(duration_s)}
    req["connectorId" if version == "1.6" else "evseId"] = connector_id
    if rate_unit is not None:
        req["chargingRateUnit"] = rate_unit
    return req


@dataclass(frozen=True)
class CompositeSchedule:
    connector_id: int
    rate_unit: RateUnit
    start: datetime | None
    duration_s: int | None
    periods: tuple[Period, ...]
    number_phases: tuple[int | None, ...] = field(default=())

    def limit_at(self, offset_s: float) -> tuple[float, int | None] | None:
        """(limit in own unit, numberPhases) in force ``offset_s`` after the start."""
        found: tuple[float, int | None] | None = None
        for i, p in enumerate(self.periods):
            if p.start_s <= offset_s:
                phases = self.number_phases[i] if i < len(self.number_phases) else None
                found = (p.limit, phases)
        return found


def unreadable_limit(limit: float, number_phases: int | None) -> bool:
    """Some firmware reports "no limit" as ``{"limit": -1, "numberPhases": -1}``: a
    negative limit or fewer than one phase is not a limit we can read."""
    return limit < 0 or (number_phases is not None and number_phases < 1)


def parse_composite(
    version: OcppVersion, response: dict[str, Any], connector_id: int
) -> CompositeSchedule | None:
    """The composite schedule of a GetCompositeSchedule answer, in *its own* unit;
    None when the station answered Rejected or sent no schedule."""
    if response.get("status") != "Accepted":
        return None
    if version == "1.6":
        sched = response.get("chargingSchedule")
        start = parse_time(response.get("scheduleStart")) or (
            parse_time(sched.get("startSchedule")) if isinstance(sched, dict) else None
        )
        connector = int(response.get("connectorId", connector_id))
    else:
        sched = response.get("schedule")
        start = parse_time(sched.get("scheduleStart")) if isinstance(sched, dict) else None
        connector = int(sched.get("evseId", connector_id)) if isinstance(sched, dict) else 0
    if not isinstance(sched, dict):
        return None
    raw = sched.get("chargingSchedulePeriod") or []
    unit: RateUnit = "A" if sched.get("chargingRateUnit") == "A" else "W"
    return CompositeSchedule(
        connector_id=connector,
        rate_unit=unit,
        start=start,
        duration_s=sched.get("duration"),
        periods=tuple(Period(int(p["startPeriod"]), float(p["limit"])) for p in raw),
        number_phases=tuple(p.get("numberPhases") for p in raw),
    )


def rejection_reason(response: dict[str, Any]) -> str:
    """The station's status and, in 2.0.1, its statusInfo, as one string."""
    status = str(response.get("status", "no status"))
    info = response.get("statusInfo")
    if isinstance(info, dict):
        extra = info.get("reasonCode", "")
        if info.get("additionalInfo"):
            extra = f"{extra}: {info['additionalInfo']}" if extra else info["additionalInfo"]
        if extra:
            return f"{status} ({extra})"
    return status
