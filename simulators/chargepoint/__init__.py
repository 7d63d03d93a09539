"""Simulated OCPP 1.6J / 2.0.1 charging stations (see docs/simulators-chargepoint.md)."""

from simulators.chargepoint.config import PRESETS, Quirks, StationConfig
from simulators.chargepoint.station import SimStation, StationError
from simulators.chargepoint.testing import ConstantEv
from simulators.chargepoint.transport import CallErrorReceived, ConnectionLost, OcppError

__all__ = [
    "PRESETS",
    "CallErrorReceived",
    "ConnectionLost",
    "ConstantEv",
    "OcppError",
    "Quirks",
    "SimStation",
    "StationConfig",
    "StationError",
]
