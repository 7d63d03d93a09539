"""A raw OCPP-J test client: real frames over ``websockets``, no OCPP library."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

Responder = Callable[[str, dict[str, Any]], Any]


class RawStation:
    """Sends CALLs and waits for their answer; answers the CSMS's CALLs with ``responder``
    (default: ``{"status": "Accepted"}``) and records them in ``received_calls``."""

    def __init__(self, ws: ClientConnection, responder: Responder | None = None):
        self.ws = ws
        self.responder = responder or (lambda action, payload: {"status": "Accepted"})
        self.received_calls: list[tuple[str, dict[str, Any]]] = []
        self._ids = itertools.count(1)
        self._answers: dict[str, asyncio.Future[list[Any]]] = {}
        self._reader = asyncio.create_task(self._read())
        self.call_seen = asyncio.Event()
        self.auto_answer = True

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                if msg[0] == 2:
                    self.received_calls.append((msg[2], msg[3]))
                    self.call_seen.set()
                    if self.auto_answer:
                        reply = self.responder(msg[2], msg[3])
                        await self.ws.send(json.dumps([3, msg[1], reply]))
                else:
                    fut = self._answers.pop(msg[1], None)
                    if fut is None and msg[1] == "-1":
                        fut = self._answers.pop("-1", None)
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
        except websockets.ConnectionClosed:
            pass

    async def send_raw(self, text: str, expect_id: str) -> list[Any]:
        fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._answers[expect_id] = fut
        await self.ws.send(text)
        return await asyncio.wait_for(fut, 5)

    async def frame(self, action: str, payload: dict[str, Any]) -> list[Any]:
        """Send a CALL, return the whole answer frame (CALLRESULT or CALLERROR)."""
        message_id = str(next(self._ids))
        return await self.send_raw(json.dumps([2, message_id, action, payload]), message_id)

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        answer = await self.frame(action, payload)
        assert answer[0] == 3, f"{action} answered {answer}"
        return dict(answer[2])

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


async def connect(
    url: str,
    station_id: str,
    version: str | None = "1.6",
    *,
    responder: Responder | None = None,
    headers: dict[str, str] | None = None,
) -> RawStation:
    ws = await websockets.connect(
        f"{url}/{station_id}",
        subprotocols=[f"ocpp{version}"] if version else None,  # type: ignore[list-item]
        additional_headers=headers,
        open_timeout=5,
    )
    return RawStation(ws, responder)


BOOT16 = {"chargePointVendor": "Evsite", "chargePointModel": "Test-16"}
BOOT201 = {"reason": "PowerUp", "chargingStation": {"model": "Test-201", "vendorName": "Evsite"}}


async def booted(url: str, station_id: str, version: str = "1.6", **kw: Any) -> RawStation:
    st = await connect(url, station_id, version, **kw)
    reply = await st.call("BootNotification", BOOT16 if version == "1.6" else BOOT201)
    assert reply["status"] == "Accepted", reply
    return st
