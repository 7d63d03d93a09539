"""OCPP JSON (1.6 csChargingProfiles, 2.0.1 chargingProfile) <-> neutral profiles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from simulators.profiles.model import (
    Composite,
    Kind,
    Period,
    Profile,
    Purpose,
    RateUnit,
    Recurrency,
    Schedule,
)

PURPOSE_16: dict[str, Purpose] = {
    "ChargePointMaxProfile": "station_max",
    "TxDefaultProfile": "tx_default",
    "TxProfile": "tx",
}
PURPOSE_201: dict[str, Purpose] = {
    "ChargingStationMaxProfile": "station_max",
    "TxDefaultProfile": "tx_default",
    "TxProfile": "tx",
    "ChargingStationExternalConstraints": "external",
}


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def format_time(value: datetime) -> str:
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _schedule(data: dict[str, Any]) -> Schedule:
    periods = tuple(
        Period(int(p["startPeriod"]), float(p["limit"]), p.get("numberPhases"))
        for p in sorted(data["chargingSchedulePeriod"], key=lambda p: p["startPeriod"])
    )
    return Schedule(
        unit=cast(RateUnit, data["chargingRateUnit"]),
        periods=periods,
        start=parse_time(data.get("startSchedule")),
        duration_s=data.get("duration"),
        min_rate=data.get("minChargingRate"),
    )


def profile_from_v16(
    data: dict[str, Any], connector_id: int, installed_at: datetime | None = None
) -> Profile:
    """A 1.6 ``csChargingProfiles`` object installed on ``connector_id``."""
    tx_id = data.get("transactionId")
    return Profile(
        profile_id=int(data["chargingProfileId"]),
        stack_level=int(data["stackLevel"]),
        purpose=PURPOSE_16[data["chargingProfilePurpose"]],
        kind=cast(Kind, data["chargingProfileKind"]),
        recurrency=cast(Recurrency | None, data.get("recurrencyKind")),
        valid_from=parse_time(data.get("validFrom")),
        valid_to=parse_time(data.get("validTo")),
        transaction_id=None if tx_id is None else str(tx_id),
        schedule=_schedule(data["chargingSchedule"]),
        connector_id=connector_id,
        installed_at=installed_at,
        raw=dict(data),
    )


def profile_from_v201(
    data: dict[str, Any], evse_id: int, installed_at: datetime | None = None
) -> Profile:
    """A 2.0.1 ``chargingProfile`` installed on ``evse_id``. Only the first of its
    (up to three) chargingSchedules is used: the others are for ISO 15118 negotiation."""
    return Profile(
        profile_id=int(data["id"]),
        stack_level=int(data["stackLevel"]),
        purpose=PURPOSE_201[data["chargingProfilePurpose"]],
        kind=cast(Kind, data["chargingProfileKind"]),
        recurrency=cast(Recurrency | None, data.get("recurrencyKind")),
        valid_from=parse_time(data.get("validFrom")),
        valid_to=parse_time(data.get("validTo")),
        transaction_id=data.get("transactionId"),
        schedule=_schedule(data["chargingSchedule"][0]),
        connector_id=evse_id,
        installed_at=installed_at,
        raw=dict(data),
    )


def _periods_json(composite: Composite) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in composite.periods:
        item: dict[str, Any] = {"startPeriod": p.start_s, "limit": p.limit}
        if p.number_phases is not None:
            item["numberPhases"] = p.number_phases
        out.append(item)
    return out


def composite_to_v16(composite: Composite) -> dict[str, Any]:
    """The ``chargingSchedule`` of a 1.6 GetCompositeSchedule.conf."""
    out: dict[str, Any] = {
        "duration": composite.duration_s,
        "startSchedule": format_time(composite.start),
        "chargingRateUnit": composite.unit,
        "chargingSchedulePeriod": _periods_json(composite),
    }
    if composite.min_rate is not None:
        out["minChargingRate"] = composite.min_rate
    return out


def composite_to_v201(composite: Composite, evse_id: int) -> dict[str, Any]:
    """The ``schedule`` (CompositeScheduleType) of a 2.0.1 GetCompositeScheduleResponse."""
    return {
        "evseId": evse_id,
        "duration": composite.duration_s,
        "scheduleStart": format_time(composite.start),
        "chargingRateUnit": composite.unit,
        "chargingSchedulePeriod": _periods_json(composite),
    }
