"""kW <-> charging-rate-unit conversion and rate-unit negotiation (pure).

Conversion (documented in docs/smart-charging.md)::

    current_a = power_w / (voltage_v * phases)
    power_w   = current_a * voltage_v * phases

``voltage_v`` is the phase-to-neutral voltage (230 V by default) from the
station's config section, or the last voltage the station reported in its
MeterValues. ``phases`` is the request's ``number_phases`` when given, else the
station's configured phases; OCPP says an absent numberPhases means 3. A DC
charger is converted with ``phases = 1`` (P = V x I, V the DC voltage it reports)
and is never sent numberPhases (see csms.smart.electrical). Limits
are rounded *down* to 0.1 (OCPP accepts at most one decimal), so a converted
limit never exceeds the requested power.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

RateUnit = Literal["W", "A"]
DEFAULT_PHASES = 3  # OCPP: numberPhases absent means 3


def round_limit(value: float) -> float:
    """Round down to one decimal (the precision OCPP accepts), never below zero."""
    return max(0.0, math.floor(value * 10 + 1e-6) / 10)


def kw_to_limit(power_kw: float, unit: RateUnit, *, voltage_v: float, phases: int) -> float:
    """A power in kW as a limit in ``unit`` (W or A per phase), rounded down to 0.1."""
    power_w = power_kw * 1000.0
    if unit == "W":
        return round_limit(power_w)
    return round_limit(power_w / (voltage_v * phases))


def limit_to_kw(limit: float, unit: RateUnit, *, voltage_v: float, phases: int) -> float:
    """A limit in ``unit`` as kW (not rounded)."""
    if unit == "W":
        return limit / 1000.0
    return limit * voltage_v * phases / 1000.0


def parse_rate_units(value: str | None, *, version: str) -> set[RateUnit]:
    """The units a station allows, from its configuration value.

    1.6 ChargingScheduleAllowedChargingRateUnit is a CSL of ``Current`` and
    ``Power``; 2.0.1 SmartChargingCtrlr.RateUnit is a member list of ``A`` and
    ``W``. Some stations write ``A,W`` in 1.6 too; both spellings are accepted.
    """
    if not value:
        return set()
    names = {"CURRENT": "A", "A": "A", "AMPERE": "A", "POWER": "W", "W": "W", "WATT": "W"}
    found: set[RateUnit] = set()
    for part in value.replace(";", ",").split(","):
        unit = names.get(part.strip().upper())
        if unit == "A":
            found.add("A")
        elif unit == "W":
            found.add("W")
    return found


def choose_rate_unit(allowed: Iterable[RateUnit], forced: str | None = None) -> RateUnit:
    """W when the station allows it (no conversion error), else A.

    A station that does not say what it allows is sent A: every smart-charging
    station must accept A in 1.6, while W is optional.
    """
    if forced == "W":
        return "W"
    if forced == "A":
        return "A"
    return "W" if "W" in set(allowed) else "A"
