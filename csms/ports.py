"""Interfaces inside the CSMS between the protocol core and the features built on it.

The core (server, OCPP handlers, persistence) implements :class:`StationDirectory`
and :class:`StationSession`, and calls every registered :class:`CsmsEventSink`.
Smart charging and the MQTT bridge are built only on these.
"""

from __future__ import annotations

from typing import Any, Protocol

from evcommon import contract
from evcommon.contract import OcppVersion


class StationSession(Protocol):
    """A connected, booted station."""

    station_id: str
    ocpp_version: OcppVersion

    @property
    def online(self) -> bool: ...

    async def call(
        self, action: str, payload: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """Send a CALL (``action`` e.g. "SetChargingProfile", payload as the spec's JSON,
        camelCase) and return the CALLRESULT payload.

        Raises StationOffline, StationNotReady, CallTimeout or OcppCallError (csms.errors).
        """
        ...


class StationDirectory(Protocol):
    def session(self, station_id: str) -> StationSession | None:
        """The live session of a station, or None when it is not connected."""
        ...

    async def is_registered(self, station_id: str) -> bool:
        """Whether the station is known (registry) or allowed (allow_unknown_stations)."""
        ...


class CsmsEventSink(Protocol):
    """Receives normalised events from the core. Methods must return quickly
    (enqueue, do not await network I/O); they run after the station's message
    has been committed to the database."""

    async def station_state(self, event: contract.StationState) -> None: ...

    async def connector_status(self, event: contract.ConnectorStatus) -> None: ...

    async def meter_values(self, event: contract.MeterValuesEvent) -> None: ...

    async def transaction(self, event: contract.TransactionEvent) -> None: ...

    async def ev_needs(self, event: contract.EVChargingNeeds) -> None: ...

    async def station_booted(self, station: StationSession) -> None:
        """After every Accepted BootNotification: redo setup (e.g. re-install profiles).

        Called once the BootNotification response has been sent, so calls to the
        station are allowed here (run them in a task the core supervises)."""
        ...
