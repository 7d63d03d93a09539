"""Meter samples in OCPP form: energy register (Wh), power (W), current (A), SoC (%)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from simulators.chargepoint.config import StationConfig
from simulators.chargepoint.connector import Connector
from simulators.profiles import format_time


def sampled_values(
    config: StationConfig, c: Connector, context: str, *, as_text: bool, energy_only: bool = False
) -> list[dict[str, Any]]:
    """1.6 wants values as strings (``as_text``), 2.0.1 as numbers."""

    def v(x: float) -> Any:
        return f"{x:.1f}" if as_text else round(x, 1)

    values = [_value(v(c.energy_wh), context, "Energy.Active.Import.Register", "Wh", as_text)]
    if energy_only:
        return values
    values.append(_value(v(c.power_w), context, "Power.Active.Import", "W", as_text))
    # one current per phase the EV draws on (L1 only for a 1-phase vehicle)
    for n in range(1, c.phases_used(config) + 1):
        item = _value(v(c.current_a(config)), context, "Current.Import", "A", as_text)
        item["phase"] = f"L{n}"
        values.append(item)
    values.append(_value(v(config.volts), context, "Voltage", "V", as_text))
    soc = c.ev.soc_pct if c.ev is not None else None
    if soc is not None:
        item = _value(v(soc), context, "SoC", "Percent", as_text)
        item["location"] = "EV"
        values.append(item)
    return values


def _value(value: Any, context: str, measurand: str, unit: str, as_text: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "value": value,
        "context": context,
        "measurand": measurand,
        "location": "Outlet",
    }
    if as_text:
        item["unit"] = unit
    else:
        item["unitOfMeasure"] = {"unit": unit}
    return item


def meter_value(
    config: StationConfig,
    c: Connector,
    when: datetime,
    context: str,
    *,
    as_text: bool,
    energy_only: bool = False,
) -> dict[str, Any]:
    return {
        "timestamp": format_time(when),
        "sampledValue": sampled_values(
            config, c, context, as_text=as_text, energy_only=energy_only
        ),
    }
