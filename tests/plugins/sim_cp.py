"""A minimal real OCPP CSMS (websockets server) for testing the station simulators.

It speaks real OCPP-J frames for both versions, records every CALL it receives in
order, answers them plausibly, and can send CALLs to a connected station. It is
not the project's CSMS (csms/), just a test partner small enough to trust.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed


@dataclass
class Received:
    station_id: str
    action: str
    payload: dict[str, Any]
    connection: int  # which connection of that station it came on


@dataclass
class MiniCsms:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    boot_status: str = "Accepted"
    heartbeat_interval_s: int = 300
    refuse_actions: set[str] = field(default_factory=set)  # answer these with InternalError
    refuse_times: dict[str, int] = field(default_factory=dict)  # ... only the first N times
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # fixed answers by action
    _server: Server | None = None
    _conns: dict[str, ServerConnection] = field(default_factory=dict)
    _pending: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _tx_ids: Any = field(default_factory=lambda: itertools.count(100))
    _conn_count: dict[str, int] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    subprotocols: dict[str, str] = field(default_factory=dict)
    ssl: Any = None  # an ssl.SSLContext for wss://
    auth_headers: dict[str, str | None] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{'wss' if self.ssl else 'ws'}://{self.host}:{self.port}/ocpp"

    async def start(self) -> None:
        self._server = await serve(
            self._handler,
            self.host,
            self.port,
            subprotocols=["ocpp1.6", "ocpp2.0.1"],  # type: ignore[list-item]
            ssl=self.ssl,
        )
        self.port = next(iter(self._server.sockets)).getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def actions(self, station_id: str | None = None) -> list[str]:
        return [r.action for r in self.received if station_id in (None, r.station_id)]

    def of(self, action: str, station_id: str | None = None) -> list[Received]:
        return [
            r for r in self.received if r.action == action and station_id in (None, r.station_id)
        ]

    async def wait_for(self, predicate: Any, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    async def wait_action(self, action: str, count: int = 1, timeout_s: float = 5.0) -> None:
        await self.wait_for(lambda: len(self.of(action)) >= count, timeout_s)

    def connected(self, station_id: str) -> bool:
        return station_id in self._conns

    async def drop(self, station_id: str) -> None:
        conn = self._conns.get(station_id)
        if conn is not None:
            conn.transport.abort()

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], timeout_s: float = 5.0
    ) -> Any:
        """Send a CALL; returns the CALLRESULT payload or ("CALLERROR", code, description)."""
        conn = self._conns[station_id]
        msg_id = f"csms-{next(self._ids)}"
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        await conn.send(json.dumps([2, msg_id, action, payload]))
        async with asyncio.timeout(timeout_s):
            return await fut

    async def send_raw(self, station_id: str, frame: str) -> None:
        await self._conns[station_id].send(frame)

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        station_id = ws.request.path.rsplit("/", 1)[-1]
        self._conns[station_id] = ws
        self.subprotocols[station_id] = ws.subprotocol or ""
        self.auth_headers[station_id] = ws.request.headers.get("Authorization")
        n = self._conn_count[station_id] = self._conn_count.get(station_id, 0) + 1
        self._changed.set()
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame[0] == 2:
                    await self._on_call(ws, station_id, n, frame)
                elif frame[1] in self._pending:
                    fut = self._pending.pop(frame[1])
                    fut.set_result(frame[2] if frame[0] == 3 else ("CALLERROR", frame[2], frame[3]))
        except ConnectionClosed:
            pass
        finally:
            if self._conns.get(station_id) is ws:
                del self._conns[station_id]
            self._changed.set()

    async def _on_call(
        self, ws: ServerConnection, station_id: str, n: int, frame: list[Any]
    ) -> None:
        _, msg_id, action, payload = frame
        if self.refuse_times.get(action, 0) > 0:
            self.refuse_times[action] -= 1
            await ws.send(json.dumps([4, msg_id, "InternalError", "busy, try again", {}]))
            return
        if action in self.refuse_actions:
            await ws.send(json.dumps([4, msg_id, "InternalError", "refused by test", {}]))
            return
        self.received.append(Received(station_id, action, payload, n))
        self._changed.set()
        await ws.send(json.dumps([3, msg_id, self._answer(action, payload)]))

    def _answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if action in self.answers:
            return self.answers[action]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if action == "BootNotification":
            return {
                "status": self.boot_status,
                "currentTime": now,
                "interval": self.heartbeat_interval_s,
            }
        if action == "Heartbeat":
            return {"currentTime": now}
        if action == "Authorize":
            if "idTag" in payload:
                return {"idTagInfo": {"status": "Accepted"}}
            return {"idTokenInfo": {"status": "Accepted"}}
        if action == "StartTransaction":
            return {"transactionId": next(self._tx_ids), "idTagInfo": {"status": "Accepted"}}
        if action == "StopTransaction":
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "TransactionEvent" and "idToken" in payload:
            return {"idTokenInfo": {"status": "Accepted"}}
        if action == "DataTransfer":
            return {"status": "UnknownVendorId"}
        return {}


def profile_request(
    version: str,
    profile_id: int,
    purpose: str,
    limits: list[float] | float,
    *,
    unit: str = "W",
    stack_level: int = 0,
    connector_id: int = 1,
    kind: str = "Absolute",
    start: str | None = "2026-01-01T00:00:00Z",
    period_s: int = 3600,
    transaction_id: Any = None,
) -> dict[str, Any]:
    """A SetChargingProfile request for either version. ``purpose`` uses 1.6 names;
    ChargePointMaxProfile becomes ChargingStationMaxProfile for 2.0.1."""
    values = limits if isinstance(limits, list) else [limits]
    periods = [{"startPeriod": i * period_s, "limit": v} for i, v in enumerate(values)]
    schedule: dict[str, Any] = {"chargingRateUnit": unit, "chargingSchedulePeriod": periods}
    if start is not None and kind != "Relative":
        schedule["startSchedule"] = start
    if version == "1.6":
        prof: dict[str, Any] = {
            "chargingProfileId": profile_id,
            "stackLevel": stack_level,
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": kind,
            "chargingSchedule": schedule,
        }
        if transaction_id is not None:
            prof["transactionId"] = int(transaction_id)
        return {"connectorId": connector_id, "csChargingProfiles": prof}
    if purpose == "ChargePointMaxProfile":
        purpose = "ChargingStationMaxProfile"
    prof = {
        "id": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": [{"id": profile_id, **schedule}],
    }
    if transaction_id is not None:
        prof["transactionId"] = str(transaction_id)
    return {"evseId": connector_id, "chargingProfile": prof}


@pytest.fixture
async def mini_csms() -> AsyncIterator[MiniCsms]:
    csms = MiniCsms()
    await csms.start()
    try:
        yield csms
    finally:
        await csms.stop()
