"""asyncio helpers for certain cancellation around aiomqtt (shared by CSMS and edge).

Python 3.11's ``asyncio.wait_for`` (which aiomqtt uses for CONNACK, SUBACK, PUBACK
and DISCONNECT) returns the awaited result when a cancellation arrives in the same
loop iteration as that result: the ``CancelledError`` is swallowed and the task
carries on (CPython gh-86296, fixed in 3.12). A reconnect loop cancelled while it
connects then keeps running, and whoever awaits it hangs. Two defences:

- :func:`raise_if_cancelling` at the loop's checkpoints (after connecting, before a
  backoff sleep) turns a swallowed cancellation back into ``CancelledError``;
- :func:`cancel_all` repeats the cancel of tasks that are still running after a grace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


def raise_if_cancelling() -> None:
    """Re-raise a cancellation that a library call swallowed (3.11 ``wait_for`` race)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


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
