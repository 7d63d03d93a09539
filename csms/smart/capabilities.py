"""What a station allows for charging profiles, read from its configuration.

1.6: GetConfiguration of ChargingScheduleAllowedChargingRateUnit,
ChargeProfileMaxStackLevel, ChargingScheduleMaxPeriods.
2.0.1: GetVariables of SmartChargingCtrlr.RateUnit / ProfileStackLevel /
PeriodsPerSchedule / Enabled / Available.
Unknown or unreadable values fall back to conservative defaults (stack level 0
only, unit A, at most one period ... see DEFAULT_*).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from csms.smart.units import RateUnit, parse_rate_units
from evcommon.contract import OcppVersion

KEYS_16 = (
    "ChargingScheduleAllowedChargingRateUnit",
    "ChargeProfileMaxStackLevel",
    "ChargingScheduleMaxPeriods",
)
VARS_201 = ("RateUnit", "ProfileStackLevel", "PeriodsPerSchedule", "Enabled", "Available")
DEFAULT_MAX_STACK_LEVEL = 0  # some stations accept only 0; never assume more
DEFAULT_MAX_PERIODS = 24  # the minimum OCPP asks stations to support


@dataclass(frozen=True)
class Capabilities:
    rate_units: frozenset[RateUnit]
    max_stack_level: int
    max_periods: int
    smart_charging_enabled: bool | None = None  # 2.0.1 SmartChargingCtrlr.Enabled/Available
    known: bool = True  # False when the station did not answer the queries


UNKNOWN = Capabilities(frozenset(), DEFAULT_MAX_STACK_LEVEL, DEFAULT_MAX_PERIODS, None, False)


def request(version: OcppVersion) -> tuple[str, dict[str, Any]]:
    """(action, payload) that reads the capabilities."""
    if version == "1.6":
        return "GetConfiguration", {"key": list(KEYS_16)}
    return "GetVariables", {
        "getVariableData": [
            {"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": name}}
            for name in VARS_201
        ]
    }


def _int(value: str | None, default: int) -> int:
    try:
        return int(str(value).strip()) if value is not None else default
    except ValueError:
        return default


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() == "true"


def parse(version: OcppVersion, response: dict[str, Any]) -> Capabilities:
    values: dict[str, str] = {}
    if version == "1.6":
        for item in response.get("configurationKey") or []:
            if isinstance(item, dict) and "key" in item and item.get("value") is not None:
                values[str(item["key"])] = str(item["value"])
        units_raw = values.get("ChargingScheduleAllowedChargingRateUnit")
        stack_raw = values.get("ChargeProfileMaxStackLevel")
        periods_raw = values.get("ChargingScheduleMaxPeriods")
        enabled = None
    else:
        for item in response.get("getVariableResult") or []:
            if not isinstance(item, dict) or item.get("attributeStatus") != "Accepted":
                continue
            name = (item.get("variable") or {}).get("name")
            if name and item.get("attributeValue") is not None:
                values[str(name)] = str(item["attributeValue"])
        units_raw = values.get("RateUnit")
        stack_raw = values.get("ProfileStackLevel")
        periods_raw = values.get("PeriodsPerSchedule")
        flags = [_bool(values.get("Enabled")), _bool(values.get("Available"))]
        enabled = None if all(f is None for f in flags) else all(f is not False for f in flags)
    return Capabilities(
        rate_units=frozenset(parse_rate_units(units_raw, version=version)),
        max_stack_level=max(0, _int(stack_raw, DEFAULT_MAX_STACK_LEVEL)),
        max_periods=max(1, _int(periods_raw, DEFAULT_MAX_PERIODS)),
        smart_charging_enabled=enabled,
        known=bool(values),
    )
