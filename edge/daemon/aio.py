"""Small asyncio helpers of the daemon: clock-aware waiting and certain cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from evcommon.clock import Clock


def raise_if_cancelling() -> None:
    """Re-raise a cancellation that a library call swallowed (3.11 ``wait_for`` race)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


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


async def cancel_all(tasks: Iterable[asyncio.Task[Any]], grace_s: float = 1.0) -> None:
    """Cancel and wait; cancel again what is still running after ``grace_s``.

    Python 3.11's ``asyncio.wait_for`` (used inside aiomqtt) can swallow a cancellation
    that arrives as its awaitable completes; repeating the cancel makes shutdown certain.
    """
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=grace_s)
