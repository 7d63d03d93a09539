"""The transaction message queue: in order, never lost, delivered when online.

Every transaction-related message (1.6 StartTransaction / StopTransaction /
MeterValues with a transaction, 2.0.1 TransactionEvent) goes through this queue,
online or not, so order is kept across connection losses. A message stays at the
head until the CSMS answers it: a connection lost mid-call resends it after the
reconnect (the CSMS must treat duplicates idempotently, as with real chargers). A
CALLERROR answer is retried until ``attempts`` tries were made (1.6
TransactionMessageAttempts), waiting ``retry_interval_s`` x tries so far in between
(TransactionMessageRetryInterval); then the message is given up, logged and counted in
:attr:`TxQueue.dropped`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from evcommon.logs import get_logger
from simulators.chargepoint.transport import CallErrorReceived, CallTimedOut, ConnectionLost


@dataclass
class QueuedMessage:
    action: str
    payload: dict[str, Any]
    queued_at: datetime
    tx_ref: str | None = None  # local transaction the message belongs to
    attempts: int = 0
    result: asyncio.Future[dict[str, Any]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


Deliver = Callable[[QueuedMessage], Awaitable[dict[str, Any]]]


class TxQueue:
    def __init__(self, station_id: str, *, attempts: int = 3, retry_interval_s: float = 1.0):
        self._items: deque[QueuedMessage] = deque()
        self._changed = asyncio.Event()
        self._attempts = attempts
        self._retry_interval_s = retry_interval_s
        self._log = get_logger("sim.cp.queue", station_id=station_id)
        self.delivered = 0
        self.dropped = 0

    def put(self, msg: QueuedMessage) -> asyncio.Future[dict[str, Any]]:
        self._items.append(msg)
        self._changed.set()
        return msg.result

    def __len__(self) -> int:
        return len(self._items)

    def pending(self) -> list[QueuedMessage]:
        return list(self._items)

    async def drained(self) -> None:
        """Wait until every queued message has been answered (or given up)."""
        while self._items:
            await asyncio.wait([self._items[-1].result])
            await asyncio.sleep(0)

    def clear(self) -> None:
        """Forget everything (only for a simulated factory reset, never on reboot)."""
        for msg in self._items:
            msg.result.cancel()
        self._items.clear()

    async def run(self, deliver: Deliver, online: asyncio.Event) -> None:
        """Deliver the head message whenever ``online`` is set, forever."""
        while True:
            if not self._items:
                self._changed.clear()
                await self._changed.wait()
                continue
            await online.wait()
            msg = self._items[0]
            try:
                result = await deliver(msg)
            except (ConnectionLost, CallTimedOut) as exc:
                # keep it at the head; the station clears ``online`` on disconnect
                self._log.info(
                    "transaction message not delivered yet", action=msg.action, why=str(exc)
                )
                lost = isinstance(exc, ConnectionLost)  # ``online`` clears in a moment
                await asyncio.sleep(0.05 if lost else self._retry_interval_s)
                continue
            except Exception as exc:  # a CALLERROR, or an answer we cannot use
                code = exc.code if isinstance(exc, CallErrorReceived) else type(exc).__name__
                msg.attempts += 1
                if msg.attempts < self._attempts:
                    self._log.warning(
                        "csms refused transaction message, retrying",
                        action=msg.action,
                        code=code,
                    )
                    # 1.6 TransactionMessageRetryInterval semantics: interval x attempts so far
                    await asyncio.sleep(self._retry_interval_s * msg.attempts)
                    continue
                self._items.popleft()
                self.dropped += 1
                self._log.error("transaction message given up", action=msg.action, code=code)
                if not msg.result.done():
                    msg.result.set_exception(exc)
                    msg.result.exception()  # retrieved: nobody may be awaiting it
                continue
            self._items.popleft()
            self.delivered += 1
            if not msg.result.done():
                msg.result.set_result(result)
