"""Commands to the CSMS over MQTT: one correlation id each, exactly one reply awaited.

Replies come on ``topics.replies(client_id)`` (named in each command's
``reply_to``). A command that times out or fails with a retryable code is
retried with exponential backoff under a *new* correlation id; a late reply to
an abandoned id is dropped. Timeouts and backoff are in real seconds: they
bound network and CSMS latency, which does not speed up with a simulated clock.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from evcommon.contract import CommandReply, ContractError, decode, encode
from evcommon.errors import EvsiteError
from evcommon.logs import get_logger

log = get_logger("edge.commands")

RETRYABLE = {"timeout", "station_offline", "internal"}
Publish = Callable[[str, bytes], Awaitable[None]]


class CommandFailed(EvsiteError):
    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(f"{code}: {message}")


class CommandClient:
    def __init__(
        self,
        publish: Publish,
        command_topic: Callable[[str], str],
        reply_topic: str,
        *,
        timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 1.0,
        on_result: Callable[[str, bool, str | None], None] | None = None,
        max_in_flight: int = 8,
        issued_by: str | None = None,
    ):
        self.issued_by = issued_by  # stamped on every command (the CSMS audits it)
        self._publish = publish
        self._command_topic = command_topic
        self.reply_topic = reply_topic
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self._pending: dict[str, asyncio.Future[CommandReply]] = {}
        self._on_result = on_result or (lambda _cmd, _ok, _code: None)
        # a whole site coming online must not flood the CSMS: the timeout starts at publish
        self._slots = asyncio.Semaphore(max_in_flight)

    def handle_reply(self, payload: bytes | bytearray) -> None:
        try:
            reply = decode(CommandReply, payload)
        except ContractError as exc:
            log.warning("bad command reply ignored", error=str(exc))
            return
        fut = self._pending.get(reply.correlation_id)
        if fut is None or fut.done():
            log.debug("reply for unknown or abandoned command", correlation_id=reply.correlation_id)
            return
        fut.set_result(reply)

    async def call(self, make: Callable[[str], Any]) -> CommandReply:
        """Send once: ``make(correlation_id)`` builds the command. Raises CommandFailed."""
        async with self._slots:
            return await self._call(make)

    async def _call(self, make: Callable[[str], Any]) -> CommandReply:
        cid = uuid.uuid4().hex
        command = make(cid)
        if self.issued_by is not None and getattr(command, "issued_by", "") is None:
            command = command.model_copy(update={"issued_by": self.issued_by})
        name = getattr(command, "command", "command")
        fut: asyncio.Future[CommandReply] = asyncio.get_running_loop().create_future()
        self._pending[cid] = fut
        try:
            await self._publish(self._command_topic(command.station_id), encode(command))
            reply = await asyncio.wait_for(fut, self.timeout_s)
        except TimeoutError:
            self._on_result(name, False, "timeout")
            raise CommandFailed("timeout", f"no reply within {self.timeout_s:g} s") from None
        except (OSError, EvsiteError) as exc:
            self._on_result(name, False, "publish")
            raise CommandFailed("publish", str(exc)) from exc
        finally:
            self._pending.pop(cid, None)
        if not reply.ok:
            code = reply.error.code if reply.error else "internal"
            self._on_result(name, False, code)
            raise CommandFailed(code, reply.error.message if reply.error else "no error body")
        self._on_result(name, True, None)
        return reply

    async def call_with_retry(self, make: Callable[[str], Any]) -> CommandReply:
        """``call`` with retries and jittered exponential backoff for retryable failures."""
        attempt = 0
        while True:
            try:
                return await self.call(make)
            except CommandFailed as exc:
                retryable = exc.code in RETRYABLE or exc.code == "publish"
                if not retryable or attempt >= self.retries:
                    raise
                delay = self.backoff_s * (2**attempt) * random.uniform(0.5, 1.5)
                attempt += 1
                log.info("command failed, retrying", error=str(exc), attempt=attempt, delay_s=delay)
                await asyncio.sleep(delay)
