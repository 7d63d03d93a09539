"""Driver-request test helpers: a capturing notifier (registered as "test-capture"), a
CSMS with the HTTP service on a free port, and real OCPP sessions that start one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from csms.app import CsmsApp
from csms.requests.notifiers import SessionNotice, register_notifier
from evcommon.clock import ManualClock
from tests.csms.client import RawStation, booted
from tests.plugins.csms import MakeCsms

T0 = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


class CaptureNotifier:
    """Keeps every notice; ``await next_notice()`` waits for the next one."""

    name = "test-capture"
    instances: list[CaptureNotifier] = []

    def __init__(self) -> None:
        self.notices: list[SessionNotice] = []
        self._queue: asyncio.Queue[SessionNotice] = asyncio.Queue()
        CaptureNotifier.instances.append(self)

    async def notify(self, notice: SessionNotice) -> None:
        self.notices.append(notice)
        self._queue.put_nowait(notice)

    async def next_notice(self, timeout_s: float = 5.0) -> SessionNotice:
        return await asyncio.wait_for(self._queue.get(), timeout_s)


register_notifier("test-capture", lambda drivers: CaptureNotifier())


async def driver_csms(
    make_csms: MakeCsms, database_url: str | None = None, **sections: Any
) -> tuple[CsmsApp, ManualClock, CaptureNotifier]:
    clock = ManualClock(T0)
    drivers = {"notifier": "test-capture", **sections.pop("drivers", {})}
    app = await make_csms(
        database_url,
        clock=clock,
        security={"accept_all_id_tags": True},
        drivers=drivers,
        **sections,
    )
    return app, clock, CaptureNotifier.instances[-1]


async def start_16(st: RawStation, connector_id: int = 1, meter_wh: int = 1000) -> int:
    start = {
        "connectorId": connector_id,
        "idTag": "TAG1",
        "meterStart": meter_wh,
        "timestamp": "2026-07-01T10:00:00Z",
    }
    reply = await st.call("StartTransaction", start)
    return int(reply["transactionId"])


async def meter_16(st: RawStation, tx_id: int, wh: float, connector_id: int = 1) -> None:
    mv = {
        "connectorId": connector_id,
        "transactionId": tx_id,
        "meterValue": [
            {
                "timestamp": "2026-07-01T10:05:00Z",
                "sampledValue": [{"value": str(wh), "unit": "Wh"}],
            }
        ],
    }
    assert await st.call("MeterValues", mv) == {}


async def stop_16(st: RawStation, tx_id: int, wh: float) -> None:
    stop = {
        "transactionId": tx_id,
        "meterStop": wh,
        "timestamp": "2026-07-01T11:00:00Z",
        "reason": "EVDisconnected",
    }
    assert await st.call("StopTransaction", stop) == {}


async def station_16(app: CsmsApp, station_id: str = "P1") -> RawStation:
    return await booted(app.url, station_id)
