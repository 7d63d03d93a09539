"""Publishes site meter readings over MQTT in the documented meter format.

The simulation never waits for the broker: :meth:`MeterPublisher.offer` keeps
the latest reading of each meter, and a task of the publisher sends what is
pending. A lost broker is retried with jittered backoff; readings that could
not be sent meanwhile are superseded by newer ones (meters are state, the
latest value is what matters), never queued without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from types import TracebackType

import aiomqtt

from evcommon.contract import SiteMeterReading, Topics, encode
from evcommon.logs import get_logger

log = get_logger(__name__)


class MeterPublisher:
    def __init__(
        self,
        host: str,
        port: int,
        site_id: str,
        *,
        prefix: str = "evsite/v1",
        retain: bool = False,
        client_id: str | None = None,
    ):
        self.host = host
        self.port = port
        self.site_id = site_id
        self.topics = Topics(prefix)
        self.retain = retain
        self.client_id = client_id or f"evsim-meters-{site_id}-{random.randrange(1 << 30):x}"
        self.published = 0
        self._pending: dict[str, SiteMeterReading] = {}
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._drained = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def topic(self, meter: str) -> str:
        return self.topics.site_meter(self.site_id, meter)

    def offer(self, readings: dict[str, SiteMeterReading]) -> None:
        self._pending.update(readings)
        self._wake.set()

    async def wait_connected(self, timeout_s: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout_s)

    async def flush(self, timeout_s: float = 5.0) -> None:
        """Wait until every offered reading is sent (or the timeout passes)."""
        async with asyncio.timeout(timeout_s):
            while self._pending:
                self._drained.clear()
                await self._drained.wait()

    async def __aenter__(self) -> MeterPublisher:
        self._task = asyncio.create_task(self._run(), name=f"meters-{self.site_id}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            try:
                await self.flush()
            except TimeoutError:
                log.warning("meter_flush_timeout", pending=len(self._pending))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        backoff_s = 0.5
        was_down = False
        while True:
            try:
                async with aiomqtt.Client(
                    self.host, self.port, identifier=self.client_id, timeout=5.0
                ) as client:
                    self._connected.set()
                    if was_down:
                        log.info("meter_broker_reconnected", host=self.host, port=self.port)
                    backoff_s, was_down = 0.5, False
                    await self._send_loop(client)
            except aiomqtt.MqttError as exc:
                self._connected.clear()
                if not was_down:
                    log.warning("meter_broker_lost", host=self.host, port=self.port, error=str(exc))
                was_down = True
                await asyncio.sleep(backoff_s * (0.5 + random.random()))
                backoff_s = min(backoff_s * 2, 10.0)

    async def _send_loop(self, client: aiomqtt.Client) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                meter, reading = next(iter(self._pending.items()))
                await client.publish(self.topic(meter), encode(reading), qos=0, retain=self.retain)
                # only drop it once sent; a newer reading may have replaced it meanwhile
                if self._pending.get(meter) is reading:
                    del self._pending[meter]
                self.published += 1
            self._drained.set()
