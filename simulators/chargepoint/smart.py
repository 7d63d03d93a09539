"""Charging-profile requests, common to both versions: install, clear, composite."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulators.chargepoint.store import Verdict
from simulators.chargepoint.transport import OcppError
from simulators.profiles import Composite, Profile, RateUnit

if TYPE_CHECKING:
    from simulators.chargepoint.station import SimStation


def set_profile(station: SimStation, profile: Profile) -> Verdict:
    if profile.purpose == "station_max" and profile.kind == "Relative":
        # what real stations answer (issue 4): max profiles must be Absolute or Recurring
        raise OcppError("PropertyConstraintViolation", "a station max profile cannot be Relative")
    c = station.connectors.get(profile.connector_id)
    tx_running = c is not None and c.tx is not None
    tx_matches = (
        c is not None
        and c.tx is not None
        and (profile.transaction_id is None or profile.transaction_id == c.tx.csms_id)
    )
    verdict = station.store.check(profile, tx_running=tx_running, tx_matches=tx_matches)
    if verdict.accepted:
        station.advance()  # energy so far under the old limits
        station.store.install(profile, tx_running=tx_running)
        station.log.info(
            "charging profile installed",
            profile_id=profile.profile_id,
            purpose=profile.purpose,
            connector_id=profile.connector_id,
        )
    else:
        station.log.info(
            "charging profile rejected", profile_id=profile.profile_id, reason=verdict.reason
        )
    return verdict


def clear_profiles(
    station: SimStation,
    *,
    profile_id: int | None,
    connector_id: int | None,
    purpose: str | None,
    stack_level: int | None,
) -> bool:
    station.advance()
    return station.store.clear(
        profile_id=profile_id, connector_id=connector_id, purpose=purpose, stack_level=stack_level
    )


def default_unit(station: SimStation) -> RateUnit:
    """The unit a composite schedule is reported in when the CSMS does not ask for one."""
    units = station.config.quirks.rate_units
    if units != "both":
        return units
    return "W" if station.config.preset == "DCFC" else "A"


def composite(
    station: SimStation, connector_id: int, duration_s: int, unit: RateUnit | None
) -> Composite | None:
    """None when the connector does not exist or the unit is not supported."""
    if connector_id != 0 and connector_id not in station.connectors:
        return None
    units = station.config.quirks.rate_units
    if unit is not None and units != "both" and unit != units:
        return None
    c = station.connectors.get(connector_id)
    return station.store.composite(
        connector_id,
        station.clock.now().replace(microsecond=0),
        duration_s,
        unit or default_unit(station),
        c.tx_context() if c is not None else None,
    )


def quirk_schedule(station: SimStation, schedule: dict[str, Any]) -> dict[str, Any]:
    """A composite schedule as the station's firmware words it (quirk
    ``composite_no_limit_negative``: "no limit" as -1 for limit and numberPhases;
    ``composite_limit_factor``: limits misstated by a factor)."""
    factor = station.config.quirks.composite_limit_factor
    if factor != 1.0:
        for period in schedule.get("chargingSchedulePeriod", []):
            period["limit"] = round(period["limit"] * factor, 1)
    if station.config.quirks.composite_no_limit_negative:
        for period in schedule.get("chargingSchedulePeriod", []):
            period["limit"] = -1
            period["numberPhases"] = -1
    return schedule
