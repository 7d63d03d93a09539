"""One station's websocket: reads frames, answers the station's CALLs in order, and
makes our CALLs to it (``call``), with requests allowed to cross in both directions."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from csms import store
from csms.errors import CallTimeout, OcppCallError, StationNotReady, StationOffline
from csms.ocpp import protocol
from csms.ocpp.protocol import Call, CallError, CallResult, FrameError, Version
from evcommon.logs import get_logger

if TYPE_CHECKING:
    from csms.core import Core

Handler = Callable[["Connection", dict[str, Any]], Awaitable[dict[str, Any]]]
# Actions a station may send before its BootNotification was Accepted.
ALLOWED_BEFORE_BOOT = frozenset({"BootNotification", "Heartbeat"})
# stations.last_seen_at is written at most this often per connection: one write a
# minute instead of one per message
SEEN_INTERVAL_S = 60.0


class Connection:
    """A connected station; implements csms.ports.StationSession."""

    def __init__(
        self,
        core: Core,
        ws: ServerConnection,
        station_id: str,
        version: Version,
        handlers: dict[str, Handler],
        *,
        ready: bool,
    ):
        self.core = core
        self.ws = ws
        self.station_id = station_id
        self.ocpp_version: Version = version
        self.handlers = handlers
        # True once a BootNotification was Accepted (on this connection, or on an earlier
        # one when the station reconnects without rebooting, e.g. after a CSMS restart)
        self.ready = ready
        self.closed = False
        self.log = get_logger("csms.station", station_id=station_id, ocpp_version=version)
        self._pending: dict[str, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self._busy = asyncio.Lock()  # held while one of the station's CALLs is handled
        self.bad_clock_logged = False
        self._seen_written: datetime | None = None
        # bad-frame log budget: (window start, lines logged in it, lines suppressed)
        self._log_window: tuple[datetime, int, int] | None = None

    @property
    def online(self) -> bool:
        return not self.closed and self.ws.state is State.OPEN

    # -- our CALLs -------------------------------------------------------------
    async def call(
        self, action: str, payload: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        if not self.online:
            raise StationOffline(self.station_id)
        if not self.ready:
            raise StationNotReady(f"station {self.station_id!r}: BootNotification not Accepted")
        timeout = timeout_s if timeout_s is not None else self.core.settings.server.call_timeout_s
        message_id = uuid.uuid4().hex
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = (action, fut)
        try:
            await self._send(protocol.dumps_call(message_id, action, payload), action, "call")
            # the timeout is real seconds: it guards the network, not simulated time.
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
            # cancellation that races the answer.
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            self.log.warning("call timed out", action=action, timeout_s=timeout)
            raise CallTimeout(self.station_id, action, timeout) from None
        except ConnectionClosed:
            raise StationOffline(self.station_id) from None
        finally:
            self._pending.pop(message_id, None)

    # -- reading -----------------------------------------------------------------
    async def run(self) -> None:
        """Read until the socket closes; then fail our pending calls with StationOffline."""
        try:
            async for raw in self.ws:
                await self._on_message(raw)
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            for _, fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(StationOffline(self.station_id))

    async def close(self, code: int = 1001, reason: str = "", *, grace_s: float = 10.0) -> None:
        """Close after the CALL being handled (if any) has been answered, waiting at
        most ``grace_s`` for it."""
        try:
            await asyncio.wait_for(self._busy.acquire(), grace_s)
        except TimeoutError:
            self.log.warning("closing while a message is still being handled")
        else:
            self._busy.release()
        self.closed = True
        await self.ws.close(code, reason)

    def _seen(self) -> None:
        """Any frame from the station: queue a last_seen_at update, at most once a minute."""
        now = self.core.clock.now()
        last = self._seen_written
        if last is not None and (now - last).total_seconds() < SEEN_INTERVAL_S:
            return
        self._seen_written = now
        station_id = self.station_id
        self.core.commits.post(lambda s: store.touch_station(s, station_id, now))

    async def _on_message(self, raw: str | bytes) -> None:
        self._seen()
        m = self.core.metrics
        if len(raw) > self.core.settings.server.max_frame_bytes:
            await self._oversized(raw)
            return
        try:
            frame = protocol.parse(raw, self.ocpp_version)
        except FrameError as exc:
            m.messages_in.labels(self.ocpp_version, "(invalid)", "invalid").inc()
            await self._answer_error(exc, "(invalid)")
            return
        if isinstance(frame, Call):
            known = frame.action in protocol.known_actions(self.ocpp_version)
            label = frame.action if known else "(unknown)"  # bounded label set
            m.child(m.messages_in, self.ocpp_version, label, "call").inc()
            async with self._busy:
                await self._on_call(frame)
        elif isinstance(frame, CallResult | CallError):
            self._on_answer(frame)

    def _on_answer(self, frame: CallResult | CallError) -> None:
        m = self.core.metrics
        entry = self._pending.get(frame.message_id)
        action = entry[0] if entry else "(unknown)"
        kind = "result" if isinstance(frame, CallResult) else "error"
        m.messages_in.labels(self.ocpp_version, action, kind).inc()
        if entry is None:
            self.log.warning("answer to no pending call", message_id=frame.message_id, type=kind)
            return
        fut = entry[1]
        if fut.done():
            return
        if isinstance(frame, CallResult):
            fut.set_result(frame.payload)
        else:
            m.call_errors.labels("received", frame.code).inc()
            fut.set_exception(OcppCallError(frame.code, frame.description, frame.details))

    async def _on_call(self, frame: Call) -> None:
        started = time.perf_counter()
        action = frame.action
        handler = self.handlers.get(action)
        try:
            if handler is None:
                if action in protocol.known_actions(self.ocpp_version):
                    raise FrameError(frame.message_id, "NotSupported", f"{action} not supported")
                raise FrameError(frame.message_id, "NotImplemented", f"unknown action {action}")
            protocol.validate(self.ocpp_version, frame.message_id, action, frame.payload)
            if not self.ready and action not in ALLOWED_BEFORE_BOOT:
                raise FrameError(frame.message_id, "SecurityError", "BootNotification first")
            response = await handler(self, frame.payload)
        except FrameError as exc:
            known = action in protocol.known_actions(self.ocpp_version)
            await self._answer_error(exc, action if known else "(unknown)")
            return
        except Exception as exc:
            # a database or handler failure: nothing was acknowledged, the station retries
            self.log.exception("handler failed", action=action)
            await self._answer_error(
                FrameError(frame.message_id, "InternalError", f"{type(exc).__name__}"), action
            )
            return
        await self._send(protocol.dumps_result(frame.message_id, response), action, "result")
        m = self.core.metrics
        m.child(m.handler_latency, self.ocpp_version, action).observe(time.perf_counter() - started)
        after = getattr(response, "after_send", None)
        if after is not None:
            after()

    async def _oversized(self, raw: str | bytes) -> None:
        """Over max_frame_bytes (and under the websocket layer's hard limit): a CALL is
        answered with a format violation and the socket stays open, so the station does
        not retry the same frame on every reconnect; an answer to our CALL fails it."""
        limit = self.core.settings.server.max_frame_bytes
        self.core.metrics.oversized_frames.inc()
        desc = f"frame of {len(raw)} bytes is over the {limit}-byte limit"
        code = protocol.code(self.ocpp_version, "format")
        head = protocol.peek(raw)
        if head is not None and head[0] == protocol.CALL:
            await self._answer_error(FrameError(head[1], code, desc), "(oversized)")
            return
        entry = self._pending.get(head[1]) if head is not None else None
        if entry is not None and not entry[1].done():
            entry[1].set_exception(OcppCallError(code, desc, {}))
        if self._may_log():
            self.log.warning("oversized frame dropped", description=desc)

    def _may_log(self) -> bool:
        """At most ``bad_frame_logs_per_minute`` bad-frame lines per station and minute
        (the metrics count every frame); what was held back is logged as one count."""
        per_minute = self.core.settings.server.bad_frame_logs_per_minute
        now = self.core.clock.now()
        start, logged, held = self._log_window or (now, 0, 0)
        if (now - start).total_seconds() >= 60:
            if held:
                self.log.warning("bad frames not logged", count=held, window_s=60)
            start, logged, held = now, 0, 0
        ok = logged < per_minute
        self._log_window = (start, logged + ok, held + (not ok))
        return ok

    async def _answer_error(self, exc: FrameError, action: str) -> None:
        self.core.metrics.call_errors.labels("sent", exc.code).inc()
        if self._may_log():
            self.log.warning(
                "answered CALLERROR", action=action, code=exc.code, description=exc.description
            )
        text = protocol.dumps_error(exc.message_id, exc.code, exc.description, exc.details)
        await self._send(text, action, "error")

    async def _send(self, text: str, action: str, kind: str) -> None:
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            if kind == "call":
                raise
            self.log.info("could not answer: connection closed", action=action)
            return
        m = self.core.metrics
        m.child(m.messages_out, self.ocpp_version, action, kind).inc()
