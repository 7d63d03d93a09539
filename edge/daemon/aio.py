"""Small asyncio helpers of the daemon: clock-aware waiting and certain cancellation.

``raise_if_cancelling`` and ``cancel_all`` live in :mod:`evcommon.aio` (the CSMS's
MQTT bridge needs them too) and are re-exported here.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from evcommon.aio import cancel_all, raise_if_cancelling
from evcommon.clock import Clock

__all__ = ["cancel_all", "raise_if_cancelling", "wait_event_until"]


async def wait_event_until(event: asyncio.Event, clock: Clock, when: datetime) -> bool:
    """Wait for ``event`` or until ``when`` on ``clock``; True if the event fired."""
    raise_if_cancelling()
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    sleeper = asyncio.ensure_future(clock.sleep_until(when))
    try:
        await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiter, sleeper):
            task.cancel()
        await asyncio.gather(waiter, sleeper, return_exceptions=True)
    return event.is_set()
