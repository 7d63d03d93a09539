"""Injectable clocks: real time, simulated time shared across processes, manual.

Every component that reads the time takes a :class:`Clock`. A simulated clock
is defined by three numbers (simulated start, real origin, speed), so every
process of one run that is given the same spec computes the same time without
talking to the others. The spec travels in ``EVSITE_CLOCK`` or ``--clock``::

    real
    sim:start=2026-07-01T00:00:00Z,speed=1440,origin=1767225600.0

``origin`` is the Unix time at which the simulated clock read ``start``; when
omitted it is "now" in the process that parses it (use
:meth:`SimClock.spec` to hand an exact spec to child processes).
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from evcommon.errors import ConfigError


@runtime_checkable
class Clock(Protocol):
    """What components need from time. All datetimes are timezone-aware UTC."""

    @property
    def speed(self) -> float:
        """Simulated seconds per real second (1.0 for real time)."""
        ...

    def now(self) -> datetime: ...

    def monotonic(self) -> float:
        """Seconds on a monotonic scale, in simulated time."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of simulated time."""
        ...

    async def sleep_until(self, when: datetime) -> None: ...


class RealClock:
    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, when: datetime) -> None:
        await self.sleep((when - self.now()).total_seconds())

    def spec(self) -> str:
        return "real"


class SimClock:
    """Simulated time running ``speed`` times faster than real time."""

    def __init__(self, start: datetime, speed: float, origin: float | None = None):
        if start.tzinfo is None:
            raise ValueError("SimClock start must be timezone-aware")
        if speed <= 0:
            raise ValueError("SimClock speed must be positive")
        self.start = start.astimezone(UTC)
        self._speed = float(speed)
        self.origin = time.time() if origin is None else float(origin)

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.origin) * self._speed)

    def monotonic(self) -> float:
        return (time.time() - self.origin) * self._speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self._speed)

    async def sleep_until(self, when: datetime) -> None:
        await self.sleep((when - self.now()).total_seconds())

    def spec(self) -> str:
        start = self.start.strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"sim:start={start},speed={self._speed:g},origin={self.origin:.6f}"


class ManualClock:
    """A clock that moves only when told to; sleepers wake as it passes their time.

    For unit and component tests: ``await clock.advance(60)`` runs everything
    due within the next simulated minute, in order.
    """

    speed = 1.0

    def __init__(self, start: datetime | None = None):
        self._now = (start or datetime(2026, 7, 1, tzinfo=UTC)).astimezone(UTC)
        self._t0 = self._now
        self._waiters: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return (self._now - self._t0).total_seconds()

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + timedelta(seconds=max(0.0, seconds)))

    async def sleep_until(self, when: datetime) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((when, fut))
        await fut

    async def advance(self, seconds: float) -> None:
        target = self._now + timedelta(seconds=seconds)
        while True:
            due = sorted(
                (w for w in self._waiters if w[0] <= target and not w[1].done()),
                key=lambda w: w[0],
            )
            if not due:
                break
            when, fut = due[0]
            self._now = max(self._now, when)
            self._waiters.remove((when, fut))
            fut.set_result(None)
            # let the woken task run until it blocks again
            for _ in range(5):
                await asyncio.sleep(0)
        self._now = target
        self._waiters = [w for w in self._waiters if not w[1].done()]
        await asyncio.sleep(0)

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)


def parse_clock(spec: str | None) -> Clock:
    """Build a clock from a spec string (see module doc); ``None`` reads EVSITE_CLOCK."""
    if spec is None:
        spec = os.environ.get("EVSITE_CLOCK", "real")
    spec = spec.strip()
    if spec in ("", "real"):
        return RealClock()
    if not spec.startswith("sim:"):
        raise ConfigError(f"clock spec {spec!r}: expected 'real' or 'sim:start=...,speed=...'")
    fields: dict[str, str] = {}
    for part in spec[4:].split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise ConfigError(f"clock spec {spec!r}: {part!r} is not key=value")
        fields[key.strip()] = value.strip()
    unknown = set(fields) - {"start", "speed", "origin"}
    if unknown:
        raise ConfigError(f"clock spec {spec!r}: unknown key {sorted(unknown)[0]!r}")
    try:
        start = datetime.fromisoformat(fields["start"].replace("Z", "+00:00"))
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        speed = float(fields.get("speed", "1"))
        origin = float(fields["origin"]) if "origin" in fields else None
    except KeyError as exc:
        raise ConfigError(f"clock spec {spec!r}: missing {exc.args[0]!r}") from exc
    except ValueError as exc:
        raise ConfigError(f"clock spec {spec!r}: {exc}") from exc
    return SimClock(start, speed, origin)
