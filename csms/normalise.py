"""OCPP sampled values -> stored rows and normalised contract events (kW, kWh, A, V, %).

Pure functions over the spec's JSON (1.6 ``sampledValue`` with string values and
``unit``; 2.0.1 numbers with ``unitOfMeasure`` {unit, multiplier}).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from evcommon import contract

ENERGY_REGISTER = "Energy.Active.Import.Register"
# SI scale of each unit to the base unit we store (W, Wh, varh, A, V, %, ...)
_UNIT_SCALE = {
    "W": 1.0,
    "kW": 1e3,
    "Wh": 1.0,
    "kWh": 1e3,
    "var": 1.0,
    "kvar": 1e3,
    "varh": 1.0,
    "kvarh": 1e3,
    "VA": 1.0,
    "kVA": 1e3,
    "A": 1.0,
    "V": 1.0,
    "Percent": 1.0,
    "Celsius": 1.0,
    "Fahrenheit": 1.0,
    "K": 1.0,
}
_DEFAULT_UNIT = {
    "Energy": "Wh",
    "Power": "W",
    "Current": "A",
    "Voltage": "V",
    "SoC": "Percent",
    "Frequency": "Hz",
    "Temperature": "Celsius",
}
# Station clocks before time sync report 1970 (or drift wildly): such times are kept
# raw in the payload record but not trusted.
EARLIEST_SANE = datetime(2010, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(days=1)


def parse_station_time(text: str | None, now: datetime) -> datetime | None:
    """A station timestamp as aware UTC, or None when missing, unparsable or not sane."""
    if not text:
        return None
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    if ts < EARLIEST_SANE or ts > now + MAX_FUTURE:
        return None
    return ts


@dataclass(slots=True)
class Sample:
    measurand: str
    value: str
    value_si: float | None
    unit: str | None
    phase: str | None
    context: str | None
    location: str | None


def _sample(sv: dict[str, Any]) -> Sample:
    measurand = sv.get("measurand") or ENERGY_REGISTER
    uom = sv.get("unitOfMeasure")
    if isinstance(uom, dict):  # 2.0.1
        unit = uom.get("unit")
        multiplier = int(uom.get("multiplier", 0))
    else:
        unit = sv.get("unit")
        multiplier = 0
    if unit is None:
        unit = _DEFAULT_UNIT.get(measurand.split(".")[0])
    raw: Any = sv.get("value")
    value_si: float | None
    try:
        value_si = float(raw) * (10.0**multiplier) * _UNIT_SCALE.get(unit or "", 1.0)
    except (TypeError, ValueError):
        value_si = None  # 1.6 allows signed data (format SignedData) -- stored raw only
    except OverflowError:
        value_si = None  # a schema-valid multiplier of 309 or more: kept raw
    if value_si is not None and not math.isfinite(value_si):
        value_si = None
    return Sample(
        measurand=measurand,
        value=str(raw),
        value_si=value_si,
        unit=unit,
        phase=sv.get("phase"),
        context=sv.get("context") or "Sample.Periodic",
        location=sv.get("location") or "Outlet",
    )


def samples(meter_value: dict[str, Any]) -> list[Sample]:
    return [_sample(sv) for sv in meter_value.get("sampledValue", [])]


def _phase_key(phase: str) -> str:
    return phase.split("-")[0]  # "L1-N" -> "L1"


DECIMALS = 6  # of a normalised value: a milliwatt-hour in kWh, finer than any meter


def _rounded(v: float | dict[str, float]) -> float | dict[str, float]:
    if isinstance(v, dict):
        return {k: round(x, DECIMALS) for k, x in v.items()}
    return round(v, DECIMALS)


def to_event(
    station_id: str,
    connector_id: int,
    transaction_id: str | None,
    sampled_at: datetime | None,
    items: list[Sample],
    received_at: datetime,
) -> contract.MeterValuesEvent | None:
    """The normalised event of one meterValue element, or None when it carries nothing usable."""
    fields: dict[str, Any] = {}
    power_phases: dict[str, float] = {}
    current_phases: dict[str, float] = {}
    context = None
    for s in items:
        if s.value_si is None or (s.location not in (None, "Outlet", "Cable", "EV")):
            continue
        context = context or s.context
        m, v = s.measurand, s.value_si
        if m == "Power.Active.Import":
            if s.phase:
                power_phases[_phase_key(s.phase)] = v / 1e3
            else:
                fields["power_kw"] = v / 1e3
        elif m == ENERGY_REGISTER and not s.phase:
            fields["energy_kwh"] = v / 1e3
        elif m == "Current.Import":
            if s.phase and s.phase != "N":
                current_phases[_phase_key(s.phase)] = v
            elif not s.phase:
                fields["current_a"] = v
        elif m == "Voltage" and "voltage_v" not in fields:
            fields["voltage_v"] = v
        elif m == "SoC":
            fields["soc_pct"] = v
        elif m == "Power.Offered":
            fields["offered_kw"] = v / 1e3
    if power_phases:
        fields["power_kw_phases"] = power_phases
        fields.setdefault("power_kw", sum(power_phases.values()))
    if current_phases:
        fields["current_a_phases"] = current_phases
        fields.setdefault("current_a", max(current_phases.values()))
    if not fields:
        return None
    # unit scaling (Wh -> kWh, 10**multiplier) leaves float noise such as 10.993947270000001
    fields = {k: _rounded(v) for k, v in fields.items()}
    return contract.MeterValuesEvent(
        ts=received_at,
        station_id=station_id,
        connector_id=connector_id,
        transaction_id=transaction_id,
        sampled_at=sampled_at,
        context=context,
        **fields,
    )
