"""The websocket endpoint: subprotocols, security profile 1, one connection per station."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from csms import security
from csms.app import CsmsApp
from csms.db.models import Station
from tests.csms.client import booted, connect
from tests.plugins.csms import MakeCsms


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def _register(app: CsmsApp, sid: str, password: str | None, status: str = "Accepted") -> None:
    async with app.database.session() as s:
        s.add(
            Station(
                station_id=sid,
                registry_status=status,
                password_hash=security.hash_password(password) if password else None,
                created_at=datetime.now(UTC),
            )
        )
        await s.commit()


async def _status_of(coro: object) -> int:
    with pytest.raises(InvalidStatus) as info:
        await coro  # type: ignore[misc]
    return int(info.value.response.status_code)


async def test_version_chosen_by_subprotocol(csms_app: CsmsApp) -> None:
    for version in ("1.6", "2.0.1"):
        st = await connect(csms_app.url, f"CP-{version}", version)
        assert st.ws.subprotocol == f"ocpp{version}"
        assert "currentTime" in await st.call("Heartbeat", {})
        assert csms_app.core.connections[f"CP-{version}"].ocpp_version == version
        await st.close()
    ws = await websockets.connect(
        f"{csms_app.url}/CP-both", subprotocols=["ocpp9", "ocpp2.0.1", "ocpp1.6"]
    )  # type: ignore[list-item]
    assert ws.subprotocol == "ocpp2.0.1"
    await ws.close()


async def test_no_subprotocol_policy(make_csms: MakeCsms) -> None:
    lenient = await make_csms()  # default_version 1.6
    st = await connect(lenient.url, "CP-none", None)
    assert st.ws.subprotocol is None
    assert (await st.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}))[
        "status"
    ] == "Accepted"
    await st.close()
    strict = await make_csms(server={"default_version": None})
    assert await _status_of(websockets.connect(f"{strict.url}/CP-none")) == 400
    assert (
        await _status_of(websockets.connect(f"{strict.url}/CP-x", subprotocols=["ocpp1.5"])) == 400
    )  # type: ignore[list-item]
    assert await _status_of(websockets.connect(f"ws://127.0.0.1:{strict.port}/other/CP")) == 404


async def test_security_profile_1(make_csms: MakeCsms) -> None:
    app = await make_csms(security={"allow_unknown_stations": False})
    await _register(app, "CP-1", "S3cret")
    await _register(app, "CP-open", None)
    url = f"{app.url}/CP-1"
    assert await _status_of(websockets.connect(url, subprotocols=["ocpp1.6"])) == 401  # type: ignore[list-item]
    bad = _basic("CP-1", "wrong")
    assert (
        await _status_of(websockets.connect(url, subprotocols=["ocpp1.6"], additional_headers=bad))
        == 401
    )  # type: ignore[list-item]
    other_user = _basic("CP-2", "S3cret")
    assert (
        await _status_of(
            websockets.connect(url, subprotocols=["ocpp1.6"], additional_headers=other_user)
        )
        == 401
    )  # type: ignore[list-item]
    assert (
        await _status_of(websockets.connect(f"{app.url}/CP-stranger", subprotocols=["ocpp1.6"]))
        == 403
    )  # type: ignore[list-item]
    st = await booted(app.url, "CP-1", headers=_basic("CP-1", "S3cret"))
    await st.close()
    st = await booted(app.url, "CP-open")
    await st.close()
    async with app.database.session() as s:
        row = await s.get(Station, "CP-1")
    assert row is not None and row.password_hash and "S3cret" not in row.password_hash


async def test_boot_status_follows_the_registry(make_csms: MakeCsms) -> None:
    app = await make_csms(security={"allow_unknown_stations": False})
    await _register(app, "CP-pending", None, "Pending")
    await _register(app, "CP-rejected", None, "Rejected")
    for sid, expected in (("CP-pending", "Pending"), ("CP-rejected", "Rejected")):
        st = await connect(app.url, sid)
        reply = await st.call(
            "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
        )
        assert reply["status"] == expected and reply["interval"] > 0
        # nothing but BootNotification/Heartbeat before Accepted; and nothing sent to it
        answer = await st.frame(
            "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        )
        assert answer[0] == 4 and answer[2] == "SecurityError"
        from csms.errors import StationNotReady

        with pytest.raises(StationNotReady):
            await app.core.connections[sid].call("Reset", {"type": "Soft"})
        await st.close()


async def test_new_connection_replaces_old(csms_app: CsmsApp) -> None:
    first = await booted(csms_app.url, "CP-flap")
    second = await connect(csms_app.url, "CP-flap")
    await asyncio.wait_for(first.ws.wait_closed(), 5)
    assert first.ws.close_code == 1000
    assert csms_app.directory.session("CP-flap") is csms_app.core.connections["CP-flap"]
    # reconnected without rebooting: it was Accepted before, so it may carry on
    assert await second.call("Heartbeat", {})
    assert (
        await second.call(
            "StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Available"}
        )
        == {}
    )
    await second.close()
    await asyncio.sleep(0.05)
    assert csms_app.directory.session("CP-flap") is None
    assert await csms_app.directory.is_registered("anything")  # allow_unknown_stations
