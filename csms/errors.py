"""CSMS errors. OCPP errors carry their spec code."""

from __future__ import annotations

from evcommon.errors import EvsiteError


class CsmsError(EvsiteError):
    """Base of CSMS errors."""


class StationOffline(CsmsError):
    """A call was made to a station that is not connected (fails at once)."""

    def __init__(self, station_id: str):
        self.station_id = station_id
        super().__init__(f"station {station_id!r} is not connected")


class StationNotReady(CsmsError):
    """The station is connected but its BootNotification was not Accepted yet."""


class CallTimeout(CsmsError):
    """A call got no answer within the configured timeout."""

    def __init__(self, station_id: str, action: str, timeout_s: float):
        self.station_id, self.action, self.timeout_s = station_id, action, timeout_s
        super().__init__(f"{action} to {station_id!r}: no answer within {timeout_s:g} s")


class OcppCallError(CsmsError):
    """The station answered our call with a CALLERROR; ``code`` is the spec code."""

    def __init__(self, code: str, description: str = "", details: object = None):
        self.code, self.description, self.details = code, description, details
        super().__init__(f"{code}: {description}" if description else code)
