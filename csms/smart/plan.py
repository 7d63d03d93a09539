"""From a version-neutral :class:`~evcommon.contract.SetLimit` to profiles (pure).

* ``valid_to`` in the past is refused (an API-level error, nothing is sent);
* the stack level never exceeds the station's ChargeProfileMaxStackLevel;
* kW periods become limits in the negotiated unit, equal neighbours are merged,
  and a schedule longer than ChargingScheduleMaxPeriods is cut: ``duration`` ends
  it where the first dropped period began (reported as ``truncated_periods``);
* the fallback chain: station_max -> tx_default -> tx, starting at the requested
  purpose; TxProfile only for a connector with a transaction in progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csms.smart.capabilities import Capabilities
from csms.smart.errors import InvalidLimit
from csms.smart.profiles import PURPOSES, Period, ProfileKind, ProfileSpec, profile_id_for
from csms.smart.units import RateUnit, kw_to_limit
from evcommon.contract import LimitPurpose, SchedulePeriod, SetLimit


@dataclass(frozen=True)
class ConvertedSchedule:
    periods: tuple[Period, ...]
    duration_s: int | None
    truncated_periods: int


def validate(cmd: SetLimit, now: datetime) -> list[SchedulePeriod]:
    """The command's periods, or :class:`InvalidLimit` naming the field."""
    if cmd.valid_to is not None and cmd.valid_to <= now:
        raise InvalidLimit("valid_to", f"is in the past ({cmd.valid_to.isoformat()})")
    if cmd.valid_from is not None and cmd.valid_to is not None and cmd.valid_to <= cmd.valid_from:
        raise InvalidLimit("valid_to", "must be after valid_from")
    if cmd.purpose == "station_max" and cmd.connector_id != 0:
        raise InvalidLimit("connector_id", "a station_max limit applies to connector 0 only")
    if cmd.limit_kw is not None and cmd.schedule:
        raise InvalidLimit("schedule", "give either limit_kw or schedule, not both")
    if cmd.limit_kw is None and not cmd.schedule:
        raise InvalidLimit("limit_kw", "required field is missing (or give schedule)")
    periods = cmd.periods()
    if periods[0].start_s != 0:
        raise InvalidLimit("schedule.0.start_s", "the first period must start at 0")
    starts = [p.start_s for p in periods]
    if starts != sorted(set(starts)):
        raise InvalidLimit("schedule", "start_s must increase strictly")
    return periods


def convert_schedule(
    periods_kw: list[SchedulePeriod],
    unit: RateUnit,
    *,
    voltage_v: float,
    phases: int,
    max_periods: int,
) -> ConvertedSchedule:
    merged: list[Period] = []
    for p in periods_kw:
        limit = kw_to_limit(p.limit_kw, unit, voltage_v=voltage_v, phases=phases)
        if merged and merged[-1].limit == limit:
            continue  # equal neighbours would waste the station's period budget
        merged.append(Period(p.start_s, limit))
    if len(merged) <= max_periods:
        return ConvertedSchedule(tuple(merged), None, 0)
    kept, dropped = merged[:max_periods], merged[max_periods:]
    return ConvertedSchedule(tuple(kept), dropped[0].start_s, len(dropped))


def stack_level(requested: int | None, default: int, caps: Capabilities) -> int:
    return min(requested if requested is not None else default, caps.max_stack_level)


def fallback_chain(
    purpose: LimitPurpose, connector_id: int, transaction_id: str | None
) -> list[LimitPurpose]:
    """Purposes to try in order. A tx limit asked outside a transaction becomes the
    connector's TxDefault (applies to the next transaction; it expires with valid_to)."""
    chain = list(PURPOSES[PURPOSES.index(purpose) :])
    if connector_id == 0 or transaction_id is None:
        chain = [p for p in chain if p != "tx"]
        if not chain:
            chain = ["tx_default"]
    return chain


def build_spec(
    cmd: SetLimit,
    purpose: LimitPurpose,
    *,
    unit: RateUnit,
    schedule: ConvertedSchedule,
    level: int,
    id_base: int,
    number_phases: int | None,
    transaction_id: str | None,
    start: datetime,
) -> ProfileSpec:
    kind: ProfileKind = cmd.kind if cmd.kind is not None else "absolute"
    return ProfileSpec(
        profile_id=profile_id_for(id_base, cmd.connector_id, purpose, level),
        connector_id=cmd.connector_id,
        purpose=purpose,
        stack_level=level,
        rate_unit=unit,
        periods=schedule.periods,
        kind=kind,
        start_schedule=cmd.valid_from or start,
        valid_from=cmd.valid_from,
        valid_to=cmd.valid_to,
        duration_s=schedule.duration_s,
        number_phases=number_phases,
        transaction_id=transaction_id if purpose == "tx" else None,
    )
