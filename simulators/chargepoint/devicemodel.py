"""The small OCPP 2.0.1 device model of a simulated station (Get/SetVariables, reports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulators.chargepoint.config import StationConfig

Key = tuple[str, int | None, str, str | None]  # component, evse id, variable, instance


@dataclass
class Variable:
    value: str
    read_only: bool
    data_type: str  # 2.0.1 DataEnumType


def build(config: StationConfig) -> dict[Key, Variable]:
    q = config.quirks
    units = {"A": "A", "W": "W", "both": "A,W"}[q.rate_units]
    dm: dict[Key, Variable] = {
        ("ChargingStation", None, "Model", None): Variable(config.model_name, True, "string"),
        ("ChargingStation", None, "VendorName", None): Variable(config.vendor, True, "string"),
        ("ChargingStation", None, "AvailabilityState", None): Variable(
            "Available", True, "OptionList"
        ),
        ("OCPPCommCtrlr", None, "HeartbeatInterval", None): Variable(
            f"{config.heartbeat_interval_s:.0f}", False, "integer"
        ),
        ("SampledDataCtrlr", None, "TxUpdatedInterval", None): Variable(
            f"{config.meter_interval_s:.0f}", False, "integer"
        ),
        ("SampledDataCtrlr", None, "TxUpdatedMeasurands", None): Variable(
            "Energy.Active.Import.Register,Power.Active.Import,Current.Import,SoC",
            False,
            "MemberList",
        ),
        ("AuthCtrlr", None, "AuthorizeRemoteStart", None): Variable("false", False, "boolean"),
        ("TxCtrlr", None, "EVConnectionTimeOut", None): Variable("120", False, "integer"),
        ("DeviceDataCtrlr", None, "ItemsPerMessage", "GetReport"): Variable("100", True, "integer"),
        ("SmartChargingCtrlr", None, "Enabled", None): Variable(
            "false" if q.external_load_management_disabled else "true", True, "boolean"
        ),
        ("SmartChargingCtrlr", None, "RateUnit", None): Variable(units, True, "MemberList"),
        ("SmartChargingCtrlr", None, "PeriodsPerSchedule", None): Variable(
            str(q.max_schedule_periods), True, "integer"
        ),
        ("SmartChargingCtrlr", None, "ProfileStackLevel", None): Variable(
            str(q.max_stack_level), True, "integer"
        ),
        ("SmartChargingCtrlr", None, "Entries", "ChargingProfiles"): Variable(
            str(q.max_profiles_installed), True, "integer"
        ),
        ("SmartChargingCtrlr", None, "ExternalControlSignalsEnabled", None): Variable(
            "false", False, "boolean"
        ),
        ("SmartChargingCtrlr", None, "LimitChangeSignificance", None): Variable(
            "0.1", False, "decimal"
        ),
    }
    for evse in range(1, config.connectors + 1):
        dm[("EVSE", evse, "Power", None)] = Variable(
            f"{config.power_kw * 1000:.0f}", True, "decimal"
        )
        dm[("EVSE", evse, "AvailabilityState", None)] = Variable("Available", True, "OptionList")
    return dm


def key_of(component: dict[str, Any], variable: dict[str, Any]) -> Key:
    evse = component.get("evse")
    return (
        component["name"],
        None if evse is None else int(evse["id"]),
        variable["name"],
        variable.get("instance"),
    )


def lookup_status(dm: dict[Key, Variable], key: Key) -> str:
    """Accepted, or why not (2.0.1 GetVariableStatusEnumType)."""
    if key in dm:
        return "Accepted"
    if any(k[0] == key[0] and k[1] == key[1] for k in dm):
        return "UnknownVariable"
    return "UnknownComponent"


def valid_value(var: Variable, value: str) -> bool:
    try:
        if var.data_type == "integer":
            return int(value) >= 0
        if var.data_type == "decimal":
            return float(value) >= 0
    except ValueError:
        return False
    if var.data_type == "boolean":
        return value in ("true", "false")
    return True


def report_data(dm: dict[Key, Variable]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for (component, evse, name, instance), var in dm.items():
        comp: dict[str, Any] = {"name": component}
        if evse is not None:
            comp["evse"] = {"id": evse}
        variable: dict[str, Any] = {"name": name}
        if instance is not None:
            variable["instance"] = instance
        out.append(
            {
                "component": comp,
                "variable": variable,
                "variableAttribute": [
                    {
                        "type": "Actual",
                        "value": var.value,
                        "mutability": "ReadOnly" if var.read_only else "ReadWrite",
                    }
                ],
                "variableCharacteristics": {"dataType": var.data_type, "supportsMonitoring": False},
            }
        )
    return out
