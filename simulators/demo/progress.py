"""Live progress of the demo, read from MQTT: simulated time, site power, vehicles charging."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO
from zoneinfo import ZoneInfo

import aiomqtt

from evcommon.clock import Clock
from evcommon.contract import MeterValuesEvent, SiteMeterReading, Topics, decode
from evcommon.errors import ContractError

CHARGING_KW = 0.1  # a connector drawing more than this counts as charging
FRESH_S = 15 * 60  # simulated seconds a connector reading stays valid


@dataclass
class SiteView:
    """What the progress line shows, updated from MQTT messages."""

    site_kw: float | None = None
    site_at: datetime | None = None
    connectors: dict[str, tuple[float, datetime]] = field(default_factory=dict)
    messages: int = 0
    bad_messages: int = 0
    peak_kw: float = 0.0

    latest: datetime | None = None  # newest connector sample seen

    def _cutoff(self, now: datetime) -> datetime:
        # relative to the newest sample, not the clock: at high speed the CSMS -> MQTT
        # path lags the simulated clock by minutes, which would make everything "stale"
        ref = min(now, self.latest) if self.latest else now
        return ref - timedelta(seconds=FRESH_S)

    def charging(self, now: datetime) -> int:
        cutoff = self._cutoff(now)
        return sum(1 for kw, at in self.connectors.values() if kw > CHARGING_KW and at >= cutoff)

    def ev_kw(self, now: datetime) -> float:
        cutoff = self._cutoff(now)
        return sum(kw for kw, at in self.connectors.values() if at >= cutoff)

    def handle(self, topic: str, payload: bytes, topics: Topics, site_id: str) -> None:
        self.messages += 1
        try:
            if topic == topics.site_meter(site_id, "main"):
                reading = decode(SiteMeterReading, payload)
                self.site_kw, self.site_at = reading.power_kw, reading.ts
                self.peak_kw = max(self.peak_kw, reading.power_kw)
            elif topic.endswith("/meter") and "/connectors/" in topic:
                event = decode(MeterValuesEvent, payload)
                if event.power_kw is not None:
                    key = f"{event.station_id}/{event.connector_id}"
                    # the CSMS's receive time: one clock for all (station clocks may be off)
                    at = event.ts
                    self.connectors[key] = (event.power_kw, at)
                    self.latest = at if self.latest is None else max(self.latest, at)
        except ContractError:
            self.bad_messages += 1


def render(
    view: SiteView, now: datetime, start: datetime, end: datetime, zone: ZoneInfo, width: int = 30
) -> str:
    total = (end - start).total_seconds()
    done = min(1.0, max(0.0, (now - start).total_seconds() / total)) if total > 0 else 1.0
    filled = round(done * width)
    bar = "#" * filled + "-" * (width - filled)
    site = f"{view.site_kw:6.1f} kW" if view.site_kw is not None else "    -- kW"
    local = now.astimezone(zone)
    return (
        f"[{bar}] {done * 100:3.0f}%  {local:%a %H:%M} sim  site {site}"
        f"  EV {view.ev_kw(now):6.1f} kW  charging {view.charging(now):3d}"
    )


async def watch(
    host: str,
    port: int,
    site_id: str,
    prefix: str,
    view: SiteView,
    ready: asyncio.Event | None = None,
) -> None:
    """Keep ``view`` up to date from the broker until cancelled (reconnects on loss)."""
    topics = Topics(prefix)
    while True:
        try:
            async with aiomqtt.Client(host, port, identifier=f"evsim-demo-{site_id}") as client:
                await client.subscribe(f"{topics.prefix}/sites/{site_id}/meters/+")
                await client.subscribe(f"{topics.prefix}/stations/+/connectors/+/meter")
                if ready is not None:
                    ready.set()
                async for message in client.messages:
                    payload = message.payload
                    if isinstance(payload, bytes | bytearray):
                        view.handle(str(message.topic), bytes(payload), topics, site_id)
        except aiomqtt.MqttError:
            await asyncio.sleep(1.0)


class WatcherThread(threading.Thread):
    """:func:`watch` on an event loop of its own, in a daemon thread.

    Cancelling an aiomqtt client while it is still connecting can leave the task
    hanging (seen here under load); on its own loop and thread it can never hold up
    the demo's shutdown: :meth:`stop` asks it to end and waits briefly, and a daemon
    thread does not keep the process alive.
    """

    def __init__(self, host: str, port: int, site_id: str, prefix: str, view: SiteView):
        super().__init__(name="progress-mqtt", daemon=True)
        self.args = (host, port, site_id, prefix, view)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = threading.Event()

    def run(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()  # type: ignore[assignment]
        self._started.set()
        await watch(*self.args)

    def stop(self, timeout_s: float = 2.0) -> None:
        self._started.wait(timeout_s)
        if self._loop is not None and self._task is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._task.cancel)
        self.join(timeout_s)


class ProgressPrinter:
    """A progress bar redrawn in place on a terminal, or a line every 5 % otherwise."""

    def __init__(self, clock: Clock, start: datetime, end: datetime, zone: ZoneInfo, out: IO[str]):
        self.clock, self.start, self.end, self.zone, self.out = clock, start, end, zone, out
        self.tty = out.isatty()
        self._last_step = -1

    def update(self, view: SiteView) -> None:
        now = min(self.clock.now(), self.end)
        if now < self.start:  # still in the start-up lead: nothing to show yet
            return
        line = render(view, now, self.start, self.end, self.zone)
        if self.tty:
            self.out.write("\r" + line)
            self.out.flush()
            return
        total = (self.end - self.start).total_seconds() or 1.0
        step = int((now - self.start).total_seconds() / total * 20)
        if step > self._last_step:
            self._last_step = step
            print(line, file=self.out, flush=True)

    def finish(self) -> None:
        if self.tty:
            self.out.write("\n")
            self.out.flush()


def stdout() -> IO[str]:
    return sys.stdout
