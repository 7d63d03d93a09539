"""The bounded outgoing queue between the event sinks and the MQTT publisher.

Sinks never block: :meth:`Outbox.put_state` and :meth:`Outbox.put_event` return at
once. State (retained) topics keep only their latest payload: while the broker is
slow or down, intermediate states of one topic are coalesced (the database keeps
every meter value), and on reconnect the latest state of every topic is published
again (a broker restarted without persistence has lost its retained messages).
Events (transactions, profile events, alarms, command replies) are kept in order up
to ``max_events``; beyond that the oldest are dropped and counted in
``csms_mqtt_dropped_events_total``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from csms.bridge.metrics import BridgeMetrics
from evcommon.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: bytes
    retain: bool = False
    properties: Any = None  # paho Properties (MQTT 5 correlation data) or None


class Outbox:
    def __init__(self, max_events: int, metrics: BridgeMetrics | None = None):
        self.metrics = metrics or BridgeMetrics()
        self.max_events = max_events
        self._state: dict[str, bytes] = {}
        self._dirty: dict[str, None] = {}  # ordered set of state topics to publish
        self._events: deque[Outgoing] = deque()
        self._wake = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        self.dropped = 0

    def put_state(self, topic: str, payload: bytes) -> None:
        self._state[topic] = payload
        self._dirty[topic] = None
        self._empty.clear()
        self._wake.set()

    def put_event(self, item: Outgoing) -> None:
        if len(self._events) >= self.max_events:
            self._events.popleft()
            self.dropped += 1
            self.metrics.dropped.inc()
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("mqtt outbox full, dropping oldest events", dropped=self.dropped)
        self._events.append(item)
        self._empty.clear()
        self._wake.set()

    def republish_all(self) -> None:
        """After a (re)connect: every retained state goes out again."""
        self._dirty = dict.fromkeys(self._state)
        if self._dirty:
            self._empty.clear()
            self._wake.set()

    def pop(self) -> Outgoing | None:
        """Next message: events first (replies are waited for), then states."""
        item: Outgoing | None = None
        if self._events:
            item = self._events.popleft()
        while item is None and self._dirty:
            topic = next(iter(self._dirty))
            del self._dirty[topic]
            if topic in self._state:
                item = Outgoing(topic, self._state[topic], retain=True)
        if not self.pending():
            self._empty.set()
        return item

    def push_back(self, item: Outgoing) -> None:
        """A publish failed (connection lost): keep the message for the next connection."""
        if item.retain:
            self._dirty = {item.topic: None, **self._dirty}
        else:
            self._events.appendleft(item)
        self._empty.clear()

    def pending(self) -> int:
        return len(self._events) + len(self._dirty)

    async def drained(self) -> None:
        """Until everything queued has been taken by the publisher."""
        await self._empty.wait()

    async def wait(self) -> None:
        while self.pending() == 0:
            self._wake.clear()
            await self._wake.wait()
