"""systemd notify protocol (Type=notify): READY, STOPPING, STATUS and the watchdog.

No-ops when not started by systemd (no NOTIFY_SOCKET), so daemons call these
unconditionally.
"""

from __future__ import annotations

import asyncio
import os
import socket


def notify(*states: str) -> bool:
    """Send ``states`` (e.g. "READY=1", "STATUS=...") to systemd; False when not under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall("\n".join(states).encode())
    return True


def watchdog_interval_s() -> float | None:
    """Half of WATCHDOG_USEC, as systemd recommends; None when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and int(pid) != os.getpid()):
        return None
    return int(usec) / 1e6 / 2


async def watchdog_loop(healthy: asyncio.Event | None = None) -> None:
    """Ping the watchdog while the event loop runs (and ``healthy`` is set, when given).

    Run it as a named task in the daemon's TaskGroup; a stuck loop stops the pings
    and systemd restarts the service.
    """
    interval = watchdog_interval_s()
    if interval is None:
        return
    while True:
        if healthy is None or healthy.is_set():
            notify("WATCHDOG=1")
        await asyncio.sleep(interval)
