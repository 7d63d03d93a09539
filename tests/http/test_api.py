"""The driver API against a running CSMS (real uvicorn on a free port, real OCPP frames),
on SQLite and PostgreSQL: link at start, submit, change, withdraw, and bad input that
changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from csms.db.models import DriverRequest, DriverSession
from tests.csms.client import booted
from tests.http.helpers import T0, driver_csms, meter_16, start_16, station_16, stop_16
from tests.plugins.csms import MakeCsms


def _iso(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


async def _rows(app: Any) -> list[tuple[Any, ...]]:
    async with app.database.session() as s:
        rows = (await s.execute(select(DriverRequest).order_by(DriverRequest.id))).scalars()
        return [
            (r.revision, r.departure_at, r.energy_kwh, r.distance_miles, r.opt_out, r.withdrawn)
            for r in rows
        ]


async def test_link_submit_change_withdraw(make_csms: MakeCsms, database_url: str) -> None:
    app, _clock, notifier = await driver_csms(make_csms, database_url)
    st = await station_16(app)
    tx_id = await start_16(st, meter_wh=1000)
    notice = await notifier.next_notice()
    assert notice.station_id == "P1" and notice.connector_id == 1
    assert notice.transaction_id == str(tx_id) and notice.id_tag == "TAG1"
    assert notice.started_at == "2026-07-01T10:00:00Z"
    assert notice.link == f"http://127.0.0.1:{app.http_port}/r/{notice.token}"
    await app.registry["requests"].notified()  # type: ignore[attr-defined]
    async with app.database.session() as s:
        stored = (await s.execute(select(DriverSession))).scalar_one()
    # only the hash of the token is stored
    assert stored.token_sha256 == hashlib.sha256(notice.token.encode()).hexdigest()
    assert stored.notify_status == "sent"
    await meter_16(st, tx_id, 3500)

    async with httpx.AsyncClient(base_url=app.http_url) as http:
        url = f"/api/v1/driver/sessions/{notice.token}"
        got = (await http.get(url)).json()
        assert got["transaction_id"] == str(tx_id) and got["energy_kwh"] == 2.5
        assert got["request"] is None and got["plan"] is None and got["ended_at"] is None

        r = await http.put(f"{url}/request", json={"departure_at": _iso(240), "energy_kwh": 12.5})
        assert r.status_code == 200, r.text
        assert r.json()["revision"] == 1 and r.json()["energy_kwh"] == 12.5

        r = await http.put(f"{url}/request", json={"departure_at": _iso(300), "distance_miles": 40})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["revision"] == 2 and body["distance_miles"] == 40
        assert body["energy_kwh"] == 12.0  # 40 miles x 0.30 kWh/mile

        got = (await http.get(url)).json()
        assert got["request"]["revision"] == 2
        assert got["request"]["departure_at"] == "2026-07-01T15:00:00Z"

        r = await http.put(f"{url}/request", json={"opt_out": True})
        assert r.status_code == 200 and r.json()["opt_out"] is True

        r = await http.delete(f"{url}/request")
        assert r.status_code == 200 and r.json() == {"withdrawn": True, "revision": 4}
        assert (await http.get(url)).json()["request"] is None

        schema = (await http.get("/openapi.json")).json()
        assert "/api/v1/driver/sessions/{token}/request" in schema["paths"]
    # every revision is kept
    rows = await _rows(app)
    assert [(r[0], r[4], r[5]) for r in rows] == [
        (1, False, False),
        (2, False, False),
        (3, True, False),
        (4, False, True),
    ]
    await stop_16(st, tx_id, 9000)
    await st.close()
    # the audit from the command line
    cli = [sys.executable, "-m", "csms.cli", "requests", "list", "--db", database_url]
    out = await asyncio.to_thread(subprocess.run, cli, capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("station\tconnector\ttransaction\trevision") and len(lines) == 5
    assert lines[2].split("\t")[:5] == ["P1", "1", str(tx_id), "2", "2026-07-01T10:00:00+00:00"]


BAD: list[tuple[dict[str, Any], str]] = [
    ({"departure_at": _iso(-5), "energy_kwh": 10}, "departure_at"),
    ({"departure_at": _iso(60), "energy_kwh": -3}, "energy_kwh"),
    ({"departure_at": _iso(60), "energy_kwh": 0}, "energy_kwh"),
    ({"departure_at": _iso(60), "distance_miles": -1}, "distance_miles"),
    ({"departure_at": _iso(60), "energy_kwh": 5, "distance_miles": 10}, "energy_kwh"),
    ({"departure_at": _iso(60)}, "energy_kwh"),
    ({"energy_kwh": 10}, "departure_at"),
    ({"departure_at": "2026-07-01T12:00:00", "energy_kwh": 10}, "departure_at"),
    ({"departure_at": "tomorrow", "energy_kwh": 10}, "departure_at"),
    ({"departure_at": _iso(60), "energy_kwh": "lots"}, "energy_kwh"),
    ({"departure_at": _iso(60), "energy_kwh": 10, "colour": "red"}, "colour"),
]


async def test_bad_input_names_the_field_and_changes_nothing(
    make_csms: MakeCsms, database_url: str
) -> None:
    app, clock, notifier = await driver_csms(make_csms, database_url)
    st = await station_16(app)
    tx_id = await start_16(st)
    token = (await notifier.next_notice()).token
    async with httpx.AsyncClient(base_url=app.http_url) as http:
        url = f"/api/v1/driver/sessions/{token}"
        good = {"departure_at": _iso(120), "energy_kwh": 8}
        assert (await http.put(f"{url}/request", json=good)).status_code == 200
        before = await _rows(app)
        for body, field in BAD:
            r = await http.put(f"{url}/request", json=body)
            assert r.status_code == 422, (body, r.text)
            detail = r.json()["detail"]
            assert any(d["loc"][:2] == ["body", field] for d in detail), (body, detail)
        assert await _rows(app) == before
        assert (await http.get(url)).json()["request"]["revision"] == 1

        # unknown token
        for method in ("get", "put", "delete"):
            path = "/api/v1/driver/sessions/not-a-token" + ("" if method == "get" else "/request")
            kwargs = {"json": good} if method == "put" else {}
            r = await getattr(http, method)(path, **kwargs)
            assert r.status_code == 404, (method, r.text)

        # the session ends: the token replayed afterwards changes nothing
        await stop_16(st, tx_id, 5000)
        await app.registry["requests"].idle()  # type: ignore[attr-defined]
        got = (await http.get(url)).json()
        assert got["ended_at"] is not None and got["energy_kwh"] == 4.0
        await clock.advance(60)
        r = await http.put(f"{url}/request", json={"departure_at": _iso(200), "energy_kwh": 3})
        assert r.status_code == 410, r.text
        assert (await http.delete(f"{url}/request")).status_code == 410
        assert await _rows(app) == before
    await st.close()


async def test_v201_transaction_start_gets_a_link(make_csms: MakeCsms) -> None:
    app, _clock, notifier = await driver_csms(make_csms)
    st = await booted(app.url, "P201", "2.0.1")
    started = {
        "eventType": "Started",
        "timestamp": "2026-07-01T10:00:00Z",
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "tx-201"},
        "evse": {"id": 2, "connectorId": 1},
        "idToken": {"idToken": "TAG2", "type": "ISO14443"},
    }
    await st.call("TransactionEvent", started)
    await st.call("TransactionEvent", started)  # resent: still one link
    notice = await notifier.next_notice()
    assert (notice.station_id, notice.connector_id, notice.transaction_id) == ("P201", 2, "tx-201")
    await app.registry["requests"].idle()  # type: ignore[attr-defined]
    assert len(notifier.notices) == 1
    async with httpx.AsyncClient(base_url=app.http_url) as http:
        r = await http.get(f"/api/v1/driver/sessions/{notice.token}")
        assert r.status_code == 200 and r.json()["connector_id"] == 2
    await st.close()


async def test_http_off_links_use_public_url(make_csms: MakeCsms) -> None:
    app, _clock, notifier = await driver_csms(
        make_csms, http={"port": -1, "public_url": "https://charge.example.org/"}
    )
    assert app.http_port is None
    st = await station_16(app)
    await start_16(st)
    notice = await notifier.next_notice()
    assert notice.link == f"https://charge.example.org/r/{notice.token}"
    await st.close()
