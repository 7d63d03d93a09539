from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from ssl import SSLContext
from typing import Any

import pytest

from evcommon.clock import ManualClock
from simulators.chargepoint import SimStation, StationConfig


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 7, 1, tzinfo=UTC))


MakeStation = Callable[..., Any]


@pytest.fixture
async def make_station(clock: ManualClock) -> AsyncIterator[MakeStation]:
    """``st = await make_station(url, ocpp_version="2.0.1", ...)``: booted, closed at teardown."""
    async with AsyncExitStack() as stack:

        async def factory(
            url: str, *, wait: bool = True, ssl: SSLContext | None = None, **cfg: Any
        ) -> SimStation:
            cfg.setdefault("station_id", "CP-1")
            cfg.setdefault("reconnect_min_s", 0.05)
            cfg.setdefault("reconnect_max_s", 0.2)
            st = await stack.enter_async_context(
                SimStation(StationConfig(**cfg), url, clock, seed=1, ssl=ssl)
            )
            if wait:
                await st.wait_accepted()
            return st

        yield factory
