"""Bad input over real sockets: the right CALLERROR, the connection stays up, nothing lost."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import urllib.request
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from csms.app import CsmsApp
from csms.db.models import IdTag, MeterValue
from csms.db.writer import CommitQueue
from tests.csms.client import booted
from tests.plugins.csms import MakeCsms


def _get(url: str) -> str:
    with urllib.request.urlopen(url) as response:
        return str(response.read().decode())


MV = {
    "connectorId": 1,
    "meterValue": [{"timestamp": "2026-07-01T10:00:00Z", "sampledValue": [{"value": "10"}]}],
}


@pytest.mark.parametrize(
    ("version", "codes"),
    [
        (
            "1.6",
            [
                "FormationViolation",
                "ProtocolError",
                "NotImplemented",
                "NotSupported",
                "TypeConstraintViolation",
                "ProtocolError",
                "PropertyConstraintViolation",
            ],
        ),
        (
            "2.0.1",
            [
                "FormatViolation",
                "MessageTypeNotSupported",
                "NotImplemented",
                "NotSupported",
                "TypeConstraintViolation",
                "ProtocolError",
                "PropertyConstraintViolation",
            ],
        ),
    ],
)
async def test_malformed_frames(csms_app: CsmsApp, version: str, codes: list[str]) -> None:
    st = await booted(csms_app.url, f"CP-bad-{version}", version)
    got = [
        (await st.send_raw("[2, 'single quotes']", "-1"))[2],
        (await st.send_raw('[9, "m2", "Heartbeat", {}]', "m2"))[2],
        (await st.frame("MakeCoffee", {}))[2],
        (await st.frame("SetChargingProfile", {}))[2],  # a CSMS->station action
    ]
    if version == "1.6":
        got.append(
            (
                await st.frame(
                    "StatusNotification",
                    {"connectorId": "1", "errorCode": "NoError", "status": "Available"},
                )
            )[2]
        )
        got.append(
            (await st.frame("StatusNotification", {"connectorId": 1, "status": "Available"}))[2]
        )
        got.append(
            (
                await st.frame(
                    "StatusNotification",
                    {"connectorId": 1, "errorCode": "NoError", "status": "Sleepy"},
                )
            )[2]
        )
    else:
        base = {"timestamp": "2026-07-01T10:00:00Z", "evseId": 1, "connectorId": 1}
        got.append(
            (
                await st.frame(
                    "StatusNotification", {**base, "evseId": "1", "connectorStatus": "Available"}
                )
            )[2]
        )
        got.append((await st.frame("StatusNotification", base))[2])
        got.append((await st.frame("StatusNotification", {**base, "connectorStatus": "Sleepy"}))[2])
    assert got == codes
    assert "currentTime" in await st.call("Heartbeat", {})  # still connected, still served
    await st.close()
    text = await asyncio.to_thread(_get, f"http://127.0.0.1:{csms_app.metrics_port}/metrics")
    assert f'csms_call_errors_total{{code="{codes[0]}",direction="sent"}} 1.0' in text
    assert 'action="(unknown)"' in text and "MakeCoffee" not in text


@pytest.mark.parametrize(
    ("version", "code"), [("1.6", "FormationViolation"), ("2.0.1", "FormatViolation")]
)
async def test_oversized_frame_is_answered_and_the_connection_kept(
    make_csms: MakeCsms, version: str, code: str
) -> None:
    app = await make_csms(server={"max_frame_bytes": 2048, "hard_max_frame_bytes": 8192})
    st = await booted(app.url, "CP-big", version)
    big = {"vendorId": "x", "data": "a" * 4096}
    answer = await st.send_raw(f'[2, "big-1", "DataTransfer", {json.dumps(big)}]', "big-1")
    assert answer[:3] == [4, "big-1", code] and "2048-byte limit" in answer[3]
    assert "currentTime" in await st.call("Heartbeat", {})  # still connected, still served
    assert app.metrics.oversized_frames._value.get() == 1
    # beyond the hard limit the websocket layer closes before buffering it all
    await st.ws.send('[2, "huge", "DataTransfer", {"vendorId": "x", "data": "' + "a" * 9000 + '"}]')
    await asyncio.wait_for(st.ws.wait_closed(), 5)
    assert st.ws.close_code == 1009  # message too big


async def test_bad_frame_logs_are_rate_limited(make_csms: MakeCsms, capsys: Any) -> None:
    app = await make_csms(server={"bad_frame_logs_per_minute": 3})
    st = await booted(app.url, "CP-noisy")
    for i in range(20):
        await st.send_raw(f'[2, "n{i}", "MakeCoffee", {{}}]', f"n{i}")
    assert "currentTime" in await st.call("Heartbeat", {})
    await st.close()
    out = capsys.readouterr().out
    assert out.count("answered CALLERROR") == 3
    text = await asyncio.to_thread(_get, f"http://127.0.0.1:{app.metrics_port}/metrics")
    assert 'csms_call_errors_total{code="NotImplemented",direction="sent"} 20.0' in text


async def test_db_error_answers_internal_error_and_loses_nothing(
    make_csms: MakeCsms, tmp_path: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'fail.db'}"
    app = await make_csms(url)
    st = await booted(app.url, "CP-db")
    assert await st.call("MeterValues", MV) == {}
    raw = sqlite3.connect(tmp_path / "fail.db")
    raw.execute("ALTER TABLE meter_values RENAME TO meter_values_away")
    raw.commit()
    answer = await st.frame("MeterValues", MV)
    assert answer[0] == 4 and answer[2] == "InternalError"
    raw.execute("ALTER TABLE meter_values_away RENAME TO meter_values")
    raw.commit()
    raw.close()
    assert await st.call("MeterValues", MV) == {}  # the station retries: now stored
    await st.close()
    async with app.database.session() as s:
        assert (await s.execute(select(func.count()).select_from(MeterValue))).scalar_one() == 2


async def test_one_failing_unit_does_not_fail_its_batch(csms_app: CsmsApp) -> None:
    from datetime import UTC, datetime

    queue = CommitQueue(csms_app.database, csms_app.metrics)
    writer = asyncio.create_task(queue.serve())
    now = datetime.now(UTC)

    def add(tag: str) -> Any:
        def work(s: Session) -> str:
            s.add(IdTag(id_tag=tag, status="Accepted", created_at=now))
            s.flush()
            return tag

        return work

    def broken(s: Session) -> None:
        raise RuntimeError("boom")

    results = await asyncio.gather(
        queue.run(add("A")), queue.run(broken), queue.run(add("B")), return_exceptions=True
    )
    writer.cancel()
    assert results[0] == "A" and results[2] == "B" and isinstance(results[1], RuntimeError)
    async with csms_app.database.session() as s:
        assert sorted((await s.execute(select(IdTag.id_tag))).scalars()) == ["A", "B"]
