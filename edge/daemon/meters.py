"""Site meter payloads: the contract's SiteMeterReading or a gateway's own JSON.

Each meter is configured with a ``field`` (dotted path into a JSON object, or
"" when the payload is a bare number), a ``unit`` (kW or W) and a ``scale``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from edge.config import MeterSection
from evcommon.errors import ContractError


class MeterPayloadError(ContractError):
    """A meter payload that cannot be read; counted, logged and ignored."""


@dataclass(frozen=True)
class MeterSample:
    power_kw: float
    ts: datetime | None  # as stamped by the meter, when the payload says


def parse_meter(payload: bytes | bytearray | str, meter: MeterSection) -> MeterSample:
    try:
        data: Any = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise MeterPayloadError(f"not JSON: {exc}") from exc
    value: Any = data
    if meter.field:
        for part in meter.field.split("."):
            if not isinstance(value, dict) or part not in value:
                raise MeterPayloadError(f"field {meter.field!r} missing")
            value = value[part]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MeterPayloadError(f"field {meter.field or 'payload'!r} is not a number: {value!r}")
    try:
        number = float(value)
    except ValueError as exc:
        raise MeterPayloadError(f"field {meter.field or 'payload'!r} is not a number") from exc
    if not math.isfinite(number):
        raise MeterPayloadError(f"field {meter.field or 'payload'!r} is not finite")
    if meter.unit == "W":
        number /= 1000.0
    return MeterSample(number * meter.scale, _timestamp(data))


def _timestamp(data: Any) -> datetime | None:
    if not isinstance(data, dict) or not isinstance(data.get("ts"), str):
        return None
    try:
        ts = datetime.fromisoformat(data["ts"].replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
