"""Notifiers: the webhook against a real HTTP receiver (retries, HMAC signature, failures
logged, counted and stored), the log notifier's redaction, config validation."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import structlog
from fastapi import FastAPI, Request, Response
from sqlalchemy import select

from csms.config import CsmsSettings
from csms.db.models import DriverSession
from csms.http.server import HttpServer
from csms.requests.notifiers import LogNotifier, SessionNotice
from evcommon.clock import ManualClock
from tests.http.helpers import T0, start_16, station_16
from tests.plugins.csms import MakeCsms
from tests.plugins.infra import free_port


class Receiver:
    """A webhook endpoint that answers 503 to the first ``fail_first`` posts."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.posts: list[tuple[bytes, dict[str, str]]] = []
        self.accepted: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.app = FastAPI()

        @self.app.post("/notify")
        async def notify(request: Request) -> Response:
            body = await request.body()
            self.posts.append((body, dict(request.headers)))
            if len(self.posts) <= self.fail_first:
                return Response(status_code=503)
            self.accepted.put_nowait(orjson.loads(body))
            return Response(status_code=204)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver(fail_first=2)
    server = HttpServer(rec.app)
    port = await server.start("127.0.0.1", 0)
    try:
        yield rec, f"http://127.0.0.1:{port}/notify"
    finally:
        await server.close()


def _metric(app: Any, name: str, **labels: str) -> float:
    value = app.metrics.registry.get_sample_value(name, labels)
    return float(value or 0.0)


async def test_webhook_retries_and_signs(make_csms: MakeCsms, receiver: Any) -> None:
    rec, url = receiver
    webhook = {"url": url, "secret": "s3cret", "retry_backoff_s": 0.01}
    app = await make_csms(
        clock=ManualClock(T0),
        security={"accept_all_id_tags": True},
        drivers={"notifier": "webhook", "webhook": webhook},
    )
    st = await station_16(app)
    tx_id = await start_16(st)
    body = await asyncio.wait_for(rec.accepted.get(), 10)
    assert len(rec.posts) == 3  # two 503s, then accepted
    assert body["transaction_id"] == str(tx_id) and body["station_id"] == "P1"
    assert body["link"] == f"http://127.0.0.1:{app.http_port}/r/{body['token']}"
    raw, headers = rec.posts[-1]
    expected = hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    assert headers["x-evsite-signature"] == f"sha256={expected}"
    await asyncio.wait_for(app.registry["requests"].notified(), 10)  # type: ignore[attr-defined]
    assert _metric(app, "csms_driver_notifications_total", notifier="webhook", result="ok") == 1
    await st.close()


async def test_webhook_failure_is_logged_counted_and_stored(make_csms: MakeCsms) -> None:
    dead = f"http://127.0.0.1:{free_port()}/notify"  # nothing listens there
    webhook = {"url": dead, "attempts": 2, "retry_backoff_s": 0.01, "timeout_s": 1}
    app = await make_csms(
        clock=ManualClock(T0),
        security={"accept_all_id_tags": True},
        drivers={"notifier": "webhook", "webhook": webhook},
    )
    st = await station_16(app)
    with structlog.testing.capture_logs() as logs:
        await start_16(st)
        await asyncio.wait_for(app.registry["requests"].notified(), 10)  # type: ignore[attr-defined]
    assert any(e["event"] == "driver notification failed" for e in logs)
    assert _metric(app, "csms_driver_notifications_total", notifier="webhook", result="failed") == 1
    async with app.database.session() as s:
        row = (await s.execute(select(DriverSession))).scalar_one()
    assert row.notify_status == "failed" and "ConnectError" in (row.notify_error or "")
    await st.close()


async def test_log_notifier_redacts_unless_dev_flag() -> None:
    notice = SessionNotice(
        "P1", 1, "7", "TAG", None, "http://h/r/abcdefghijklmnop", "abcdefghijklmnop"
    )
    with structlog.testing.capture_logs() as logs:
        await LogNotifier().notify(notice)
        await LogNotifier(log_links=True).notify(notice)
    assert logs[0]["link"] == "http://h/r/abcd…" and "abcdefghijklmnop" not in str(logs[0])
    assert logs[1]["link"] == "http://h/r/abcdefghijklmnop"


def test_unknown_notifier_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="unknown notifier 'sms'"):
        CsmsSettings.model_validate({"drivers": {"notifier": "sms"}})
    with pytest.raises(ValueError, match="timezone"):
        CsmsSettings.model_validate({"drivers": {"timezone": "Mars/Olympus"}})
