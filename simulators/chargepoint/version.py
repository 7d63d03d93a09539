"""What the station needs from a protocol version (implemented in v16.py, v201.py)."""

from __future__ import annotations

from typing import Any, Protocol

from simulators.chargepoint.connector import Connector, Transaction
from simulators.chargepoint.offline import QueuedMessage
from simulators.chargepoint.transport import OcppConnection, Reply


class VersionAdapter(Protocol):
    subprotocol: str

    async def boot(self, conn: OcppConnection, reason: str) -> tuple[str, float]:
        """Send BootNotification; return (status, interval in seconds)."""
        ...

    async def heartbeat(self, conn: OcppConnection) -> None: ...

    def configuration_changed(self) -> None:
        """Re-read the quirks that the station reports in its configuration."""
        ...

    async def report_station(self, conn: OcppConnection) -> None:
        """Statuses that concern the whole station after a (re)connect (1.6 connector 0)."""
        ...

    async def report(self, c: Connector) -> None:
        """Send StatusNotification (and 2.0.1 charging-state events) if anything changed."""
        ...

    def connection_timeout_s(self) -> float:
        """How long a remote start waits for the cable (simulated seconds)."""
        ...

    def charging_state_changed(self, c: Connector) -> None:
        """2.0.1: queue a ChargingStateChanged event if the charging state changed."""
        ...

    async def authorize(self, id_token: str) -> bool: ...

    def prepare_transaction(self, tx: Transaction) -> None:
        """Assign what the version needs before the start message (2.0.1: our tx id)."""
        ...

    def tx_started(self, c: Connector) -> None: ...

    def tx_meter(self, c: Connector) -> None: ...

    def tx_ended(self, c: Connector, reason: str) -> None: ...

    async def ev_charging_needs(self, c: Connector) -> None: ...

    def resolve(self, msg: QueuedMessage) -> dict[str, Any]:
        """The payload to send for a queued message (1.6: fill in the transaction id)."""
        ...

    def delivered(self, msg: QueuedMessage, result: dict[str, Any]) -> None: ...

    async def handle(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | Reply: ...
