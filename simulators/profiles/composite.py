"""The composite schedule: which limit applies to a connector at each moment.

Pure functions over :mod:`simulators.profiles.model`. The rules (OCPP 1.6 §3.13,
2.0.1 Part 2 §K "Stacking charging profiles" / "Combining charging profile purposes"):

* Within one purpose the *leading* profile at an instant is the one with the highest
  stackLevel that is valid then (validFrom <= t < validTo) and whose schedule has a
  period for that instant (started, not past its duration). A higher stack level that
  is expired or has not started does not shadow a lower one. At equal stack level a
  profile on the connector itself beats one on connector/EVSE 0.
* TxProfile (for the running transaction) replaces TxDefaultProfile.
* The composite limit is the lowest of the leading limits of station-max, Tx-or-TxDefault
  and (2.0.1) external constraints, and never above the connector's hardware limit.
* Relative schedules start at the transaction start (at the window start when no
  transaction runs); Recurring ones repeat every day/week from startSchedule, both
  forward and backward in time; Absolute without startSchedule starts when installed.
* A and W convert with the connector's voltage and ``min(numberPhases or 3, phases)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from simulators.profiles.model import (
    RECURRENCE_S,
    Composite,
    CompositePeriod,
    Electrical,
    Period,
    Profile,
    RateUnit,
)


@dataclass(frozen=True)
class TxContext:
    """The transaction running on the connector."""

    started_at: datetime
    transaction_id: str | None = None


def applicable(
    profiles: Iterable[Profile], connector_id: int, tx: TxContext | None
) -> list[Profile]:
    """The profiles that can affect ``connector_id`` (0 = the station as a whole)."""
    out: list[Profile] = []
    for p in profiles:
        if p.purpose == "station_max":
            ok = p.connector_id == 0
        elif connector_id == 0:
            ok = p.purpose == "external" and p.connector_id == 0
        elif p.purpose in ("tx_default", "external"):
            ok = p.connector_id in (0, connector_id)
        else:  # tx
            ok = (
                tx is not None
                and p.connector_id == connector_id
                and (p.transaction_id is None or p.transaction_id == tx.transaction_id)
            )
        if ok:
            out.append(p)
    return out


def _schedule_start(
    p: Profile, t: datetime, window_start: datetime, tx: TxContext | None
) -> datetime:
    if p.kind == "Relative":
        return tx.started_at if tx is not None else window_start
    base = p.schedule.start or p.installed_at or window_start
    if p.kind == "Recurring":
        period_s = RECURRENCE_S[p.recurrency or "Daily"]
        k = math.floor((t - base).total_seconds() / period_s)
        return base + timedelta(seconds=k * period_s)
    return base


def active_period(
    p: Profile, t: datetime, window_start: datetime, tx: TxContext | None
) -> Period | None:
    """The schedule period of ``p`` in force at ``t``, or None when ``p`` says nothing then."""
    if p.valid_from is not None and t < p.valid_from:
        return None
    if p.valid_to is not None and t >= p.valid_to:
        return None
    start = _schedule_start(p, t, window_start, tx)
    elapsed_s = (t - start).total_seconds()
    if elapsed_s < 0:
        return None
    if p.schedule.duration_s is not None and elapsed_s >= p.schedule.duration_s:
        return None
    if p.kind == "Recurring" and elapsed_s >= RECURRENCE_S[p.recurrency or "Daily"]:
        return None
    found: Period | None = None
    for period in p.schedule.periods:
        if period.start_s <= elapsed_s:
            found = period
        else:
            break
    return found


def leading(
    profiles: Sequence[Profile], t: datetime, window_start: datetime, tx: TxContext | None
) -> tuple[Profile, Period] | None:
    """The leading profile (and its period) among profiles of one purpose."""
    ranked = sorted(profiles, key=lambda p: (p.stack_level, p.connector_id != 0), reverse=True)
    for p in ranked:
        period = active_period(p, t, window_start, tx)
        if period is not None:
            return p, period
    return None


def _occurrence_starts(
    p: Profile, t0: datetime, t1: datetime, tx: TxContext | None
) -> Iterator[datetime]:
    if p.kind != "Recurring":
        yield _schedule_start(p, t0, t0, tx)
        return
    period_s = RECURRENCE_S[p.recurrency or "Daily"]
    first = _schedule_start(p, t0, t0, tx)
    k = 0
    while first + timedelta(seconds=k * period_s) < t1:
        yield first + timedelta(seconds=k * period_s)
        k += 1


def breakpoints(
    profiles: Sequence[Profile], t0: datetime, t1: datetime, tx: TxContext | None
) -> list[datetime]:
    """Every instant in [t0, t1) at which some profile's limit may change."""
    points = {t0}
    for p in profiles:
        points.update(x for x in (p.valid_from, p.valid_to) if x is not None)
        for start in _occurrence_starts(p, t0, t1, tx):
            points.update(start + timedelta(seconds=q.start_s) for q in p.schedule.periods)
            if p.schedule.duration_s is not None:
                points.add(start + timedelta(seconds=p.schedule.duration_s))
            if p.kind == "Recurring":
                points.add(start + timedelta(seconds=RECURRENCE_S[p.recurrency or "Daily"]))
    return sorted(x for x in points if t0 <= x < t1 or x == t0)


Lead = tuple[Profile, Period]


def leads_at(
    profiles: Sequence[Profile], t: datetime, window_start: datetime, tx: TxContext | None
) -> list[Lead]:
    """The leading (profile, period) of station max, Tx-or-TxDefault and external, at ``t``;
    the Tx/TxDefault one (if any) comes first."""
    by_purpose: dict[str, list[Profile]] = {}
    for p in profiles:
        by_purpose.setdefault(p.purpose, []).append(p)
    tx_lead = leading(by_purpose.get("tx", []), t, window_start, tx)
    if tx_lead is None:
        tx_lead = leading(by_purpose.get("tx_default", []), t, window_start, tx)
    others = [
        leading(by_purpose.get("station_max", []), t, window_start, tx),
        leading(by_purpose.get("external", []), t, window_start, tx),
    ]
    return [lead for lead in (tx_lead, *others) if lead is not None]


def limit_at(
    profiles: Sequence[Profile],
    t: datetime,
    *,
    unit: RateUnit,
    electrical: Electrical,
    window_start: datetime,
    tx: TxContext | None = None,
) -> tuple[float, int | None, float | None]:
    """(limit, numberPhases, minChargingRate) at ``t`` over already-applicable profiles."""
    ceiling = electrical.max_power_w if unit == "W" else electrical.max_current_a
    best: tuple[float, int | None] = (ceiling, None)
    min_rate: float | None = None
    leads = leads_at(profiles, t, window_start, tx)
    if leads and leads[0][0].purpose in ("tx", "tx_default"):
        sched = leads[0][0].schedule
        if sched.min_rate is not None:
            min_rate = electrical.convert(
                sched.min_rate, sched.unit, leads[0][1].number_phases, unit
            )
    for p, period in leads:
        value = electrical.convert(period.limit, p.schedule.unit, period.number_phases, unit)
        if value < best[0]:
            best = (value, period.number_phases)
    return best[0], best[1], min_rate


def offered_w(
    profiles: Sequence[Profile],
    t: datetime,
    *,
    electrical: Electrical,
    ev_phases: int,
    window_start: datetime,
    tx: TxContext | None = None,
) -> float:
    """The power an EV using ``ev_phases`` phases can draw at ``t``: a current limit (and the
    connector's current rating) applies per phase the EV actually uses, a power limit as is.
    This is where a 1-phase EV on a 3-phase station differs from the composite in W."""
    phases = max(1, min(ev_phases, electrical.phases))
    best = min(electrical.max_power_w, electrical.max_current_a * electrical.voltage_v * phases)
    for p, period in leads_at(profiles, t, window_start, tx):
        if p.schedule.unit == "W":
            value = period.limit
        else:
            used = min(3 if period.number_phases is None else period.number_phases, phases)
            value = period.limit * electrical.voltage_v * max(1, used)
        best = min(best, value)
    return best


def composite_schedule(
    profiles: Iterable[Profile],
    *,
    connector_id: int,
    start: datetime,
    duration_s: int,
    unit: RateUnit,
    electrical: Electrical,
    tx: TxContext | None = None,
) -> Composite:
    """The composite schedule of ``connector_id`` over [start, start + duration_s)."""
    relevant = applicable(profiles, connector_id, tx)
    t1 = start + timedelta(seconds=duration_s)
    periods: list[CompositePeriod] = []
    first_min_rate: float | None = None
    for i, t in enumerate(breakpoints(relevant, start, t1, tx)):
        limit, phases, min_rate = limit_at(
            relevant, t, unit=unit, electrical=electrical, window_start=start, tx=tx
        )
        if i == 0:
            first_min_rate = min_rate
        limit = round(limit, 1)
        if periods and periods[-1].limit == limit and periods[-1].number_phases == phases:
            continue
        periods.append(CompositePeriod(int((t - start).total_seconds()), limit, phases))
    return Composite(
        start=start,
        duration_s=duration_s,
        unit=unit,
        periods=tuple(periods),
        min_rate=None if first_min_rate is None else round(first_min_rate, 1),
    )
