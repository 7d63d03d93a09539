"""OCPP-J framing over one websocket connection: calls out, calls in, raw frames.

A thin layer of our own (rather than ``ocpp.ChargePoint``) because a simulator must
also send broken frames on purpose, survive reconnects with a queue of old messages,
and answer the CSMS before acting on its request (see :class:`Reply`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from evcommon.errors import EvsiteError
from evcommon.logs import get_logger
from simulators.chargepoint import schemas

CALL, CALLRESULT, CALLERROR = 2, 3, 4


class OcppError(EvsiteError):
    """Raised by a handler to answer with a CALLERROR; ``code`` is the spec's code."""

    def __init__(self, code: str, description: str = "", details: dict[str, Any] | None = None):
        self.code, self.description, self.details = code, description, details or {}
        super().__init__(f"{code}: {description}" if description else code)


class CallErrorReceived(OcppError):
    """The CSMS answered our call with a CALLERROR."""


class ConnectionLost(EvsiteError):
    """The connection went away before our call was answered."""


class CallTimedOut(EvsiteError):
    """No answer to our call within the timeout."""


@dataclass
class Reply:
    """A handler's answer plus what to do once the answer has been sent
    (e.g. start the transaction after RemoteStartTransaction was Accepted)."""

    payload: dict[str, Any]
    then: Callable[[], Awaitable[None]] | None = None


Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any] | Reply]]
Spawn = Callable[[Awaitable[None], str], None]


class OcppConnection:
    """One open websocket. ``run()`` reads frames until the socket closes."""

    def __init__(
        self,
        ws: ClientConnection,
        version: str,
        handler: Handler,
        spawn: Spawn,
        *,
        station_id: str,
        call_timeout_s: float = 30.0,
        validate_outgoing: bool = True,
        bad_answers: list[tuple[str, str]] | None = None,
    ):
        self.ws = ws
        self.version = version
        self._handler = handler
        self._spawn = spawn
        self._timeout_s = call_timeout_s
        self._validate_out = validate_outgoing
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._actions: dict[str, str] = {}  # message id -> action of our pending call
        #: answers from the CSMS that broke their schema: (action, problem)
        self.bad_answers: list[tuple[str, str]] = [] if bad_answers is None else bad_answers
        self._ids = itertools.count(1)
        self._call_lock = asyncio.Lock()  # OCPP-J: one outstanding call per direction
        self._log = get_logger("sim.cp", station_id=station_id)
        self.closed = asyncio.Event()

    # outgoing -----------------------------------------------------------------
    async def call(
        self, action: str, payload: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        if self._validate_out:
            schemas.validate(self.version, action, payload)
        async with self._call_lock:
            if self.closed.is_set():
                raise ConnectionLost(f"{action}: connection closed")
            msg_id = f"{next(self._ids)}"
            fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending[msg_id] = fut
            self._actions[msg_id] = action
            try:
                await self._send([CALL, msg_id, action, payload])
                async with asyncio.timeout(timeout_s or self._timeout_s):
                    return await fut
            except TimeoutError as exc:
                raise CallTimedOut(f"{action}: no answer") from exc
            except ConnectionClosed as exc:
                raise ConnectionLost(f"{action}: connection closed") from exc
            finally:
                self._pending.pop(msg_id, None)
                self._actions.pop(msg_id, None)

    async def send_raw(self, frame: str | bytes) -> None:
        """Send anything, e.g. a malformed frame for a test."""
        await self.ws.send(frame)

    async def _send(self, frame: list[Any]) -> None:
        await self.ws.send(json.dumps(frame, separators=(",", ":")))

    async def close(self, code: int = 1000, reason: str = "", timeout_s: float = 2.0) -> None:
        """Close with a closing handshake (1000 normal, 1001 going away); a peer that
        does not answer within ``timeout_s`` real seconds gets the TCP connection dropped."""
        try:
            async with asyncio.timeout(timeout_s):
                await self.ws.close(code, reason)
        except TimeoutError:
            self.abort()
        await self.closed.wait()

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake (a network loss)."""
        self.ws.transport.abort()

    # incoming -----------------------------------------------------------------
    async def run(self) -> None:
        try:
            async for raw in self.ws:
                await self._on_frame(raw)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionLost("connection closed"))
                    fut.exception()  # retrieved: its caller may have been cancelled meanwhile

    async def _on_frame(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            self._log.warning("bad frame from csms", frame=str(raw)[:200])
            return
        if not isinstance(frame, list) or len(frame) < 3 or not isinstance(frame[1], str):
            self._log.warning("bad frame from csms", frame=str(raw)[:200])
            return
        kind, msg_id = frame[0], frame[1]
        if kind == CALL and len(frame) == 4:
            await self._on_call(msg_id, frame[2], frame[3])
        elif kind == CALLRESULT and msg_id in self._pending:
            fut = self._pending[msg_id]
            self._check_answer(self._actions.get(msg_id, ""), frame[2])
            if not fut.done():
                fut.set_result(frame[2] if isinstance(frame[2], dict) else {})
        elif kind == CALLERROR and msg_id in self._pending and len(frame) >= 4:
            fut = self._pending[msg_id]
            details = frame[4] if len(frame) > 4 and isinstance(frame[4], dict) else {}
            if not fut.done():
                fut.set_exception(CallErrorReceived(str(frame[2]), str(frame[3]), details))
        else:
            self._log.warning("unexpected frame from csms", frame=str(raw)[:200])

    def _check_answer(self, action: str, payload: Any) -> None:
        """A CSMS answer that breaks its schema is logged and recorded, not fatal."""
        try:
            schemas.validate(self.version, action, payload, response=True)
        except schemas.SchemaViolation as exc:
            self.bad_answers.append((action, str(exc)))
            self._log.warning("csms answer breaks its schema", action=action, problem=str(exc))

    async def _on_call(self, msg_id: str, action: Any, payload: Any) -> None:
        try:
            if not isinstance(action, str) or not isinstance(payload, dict):
                raise OcppError("ProtocolError", "action must be a string, payload an object")
            if not schemas.has_action(self.version, action):
                raise OcppError("NotImplemented", f"unknown action {action}")
            try:
                schemas.validate(self.version, action, payload)
            except schemas.SchemaViolation as exc:
                raise OcppError(exc.code, str(exc)) from exc
            answer = await self._handler(action, payload)
            reply = answer if isinstance(answer, Reply) else Reply(answer)
            if self._validate_out:  # our own answers must follow the schema too
                schemas.validate(self.version, action, reply.payload, response=True)
        except OcppError as exc:
            await self._send([CALLERROR, msg_id, exc.code, exc.description, exc.details])
            return
        except Exception as exc:  # a bug in a handler must not kill the connection
            self._log.exception("handler failed", action=action)
            await self._send([CALLERROR, msg_id, "InternalError", str(exc)[:200], {}])
            return
        await self._send([CALLRESULT, msg_id, reply.payload])
        if reply.then is not None:
            self._spawn(reply.then(), f"after-{action}")
