"""CSMS -> station calls: the version-neutral commands, offline, timeouts, crossing requests."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from csms import commands
from csms.app import CsmsApp
from csms.errors import CallTimeout, OcppCallError, StationOffline
from tests.csms.client import booted
from tests.csms.sink import RecordingSink


def _responder(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    if action == "GetConfiguration":
        return {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
            "unknownKey": ["Nope"],
        }
    if action == "GetVariables":
        return {
            "getVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "attributeValue": "22000",
                    "component": {"name": "EVSE"},
                    "variable": {"name": "Power"},
                },
                {
                    "attributeStatus": "UnknownVariable",
                    "component": {"name": "X"},
                    "variable": {"name": "Y"},
                },
            ]
        }
    if action == "SetVariables":
        return {
            "setVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "component": d["component"],
                    "variable": d["variable"],
                }
                for d in payload["setVariableData"]
            ]
        }
    if action == "RemoteStopTransaction":
        return {"status": "Rejected"}
    return {"status": "Accepted"}


async def test_commands_16(csms_app: CsmsApp) -> None:
    st = await booted(csms_app.url, "CP-cmd", responder=_responder)
    s = csms_app.directory.session("CP-cmd")
    assert s is not None and s.online
    assert await commands.remote_start(s, id_token="TAG", connector_id=1) == "Accepted"
    assert await commands.remote_stop(s, transaction_id="7") == "Rejected"
    assert await commands.reset(s, kind="hard") == "Accepted"
    assert await commands.change_availability(s, connector_id=1, available=False) == "Accepted"
    assert (
        await commands.trigger_message(s, message="StatusNotification", connector_id=1)
        == "Accepted"
    )
    assert await commands.unlock_connector(s, connector_id=1) == "Accepted"
    assert await commands.get_configuration(s, ["HeartbeatInterval", "Nope"]) == {
        "HeartbeatInterval": "300",
        "Nope": None,
    }
    assert await commands.change_configuration(s, key="HeartbeatInterval", value="60") == "Accepted"
    with pytest.raises(OcppCallError) as info:
        await commands.get_variables(s, [("EVSE", "Power")])
    assert info.value.code == "NotSupported"
    sent = st.received_calls
    assert sent[0] == ("RemoteStartTransaction", {"idTag": "TAG", "connectorId": 1})
    assert sent[1] == ("RemoteStopTransaction", {"transactionId": 7})
    assert sent[2] == ("Reset", {"type": "Hard"})
    assert sent[3] == ("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert sent[4] == (
        "TriggerMessage",
        {"requestedMessage": "StatusNotification", "connectorId": 1},
    )
    await st.close()


async def test_commands_201(csms_app: CsmsApp) -> None:
    st = await booted(csms_app.url, "CS-cmd", "2.0.1", responder=_responder)
    s = csms_app.directory.session("CS-cmd")
    assert s is not None
    assert await commands.remote_start(s, id_token="TAG", connector_id=2) == "Accepted"
    assert await commands.remote_stop(s, transaction_id="tx-1") == "Accepted"
    assert await commands.reset(s, kind="soft") == "Accepted"
    assert await commands.change_availability(s, connector_id=0, available=True) == "Accepted"
    assert await commands.trigger_message(s, message="MeterValues", connector_id=1) == "Accepted"
    assert await commands.unlock_connector(s, connector_id=1) == "Accepted"
    assert await commands.get_variables(s, [("EVSE", "Power"), ("X", "Y")]) == {
        ("EVSE", "Power"): "22000",
        ("X", "Y"): None,
    }
    assert await commands.set_variables(s, {("OCPPCommCtrlr", "HeartbeatInterval"): "60"}) == {
        ("OCPPCommCtrlr", "HeartbeatInterval"): "Accepted"
    }
    assert await commands.get_base_report(s, request_id=1) == "Accepted"
    names = [a for a, _ in st.received_calls]
    assert names == [
        "RequestStartTransaction",
        "RequestStopTransaction",
        "Reset",
        "ChangeAvailability",
        "TriggerMessage",
        "UnlockConnector",
        "GetVariables",
        "SetVariables",
        "GetBaseReport",
    ]
    assert (
        st.received_calls[0][1]["evseId"] == 2
        and st.received_calls[0][1]["idToken"]["type"] == "Central"
    )
    assert st.received_calls[2][1] == {"type": "OnIdle"}
    assert st.received_calls[3][1] == {"operationalStatus": "Operative"}
    await st.close()


async def test_offline_timeout_and_callerror(make_csms: Any) -> None:
    app: CsmsApp = await make_csms(server={"call_timeout_s": 0.3})
    st = await booted(app.url, "CP-slow")
    s = app.core.connections["CP-slow"]
    st.auto_answer = False
    started = time.monotonic()
    with pytest.raises(CallTimeout):
        await s.call("Reset", {"type": "Soft"})
    assert 0.25 < time.monotonic() - started < 2
    await st.close()
    started = time.monotonic()
    with pytest.raises(StationOffline):
        await s.call("Reset", {"type": "Soft"})
    assert time.monotonic() - started < 0.1  # at once
    assert app.directory.session("CP-slow") is None


async def test_station_callerror_is_raised(csms_app: CsmsApp) -> None:
    st = await booted(csms_app.url, "CP-err")
    st.auto_answer = False
    s = csms_app.core.connections["CP-err"]
    task = asyncio.create_task(s.call("UnlockConnector", {"connectorId": 1}))
    await st.call_seen.wait()
    # the CSMS's call is in flight; the station sends its own request first (they cross)
    assert "currentTime" in await st.call("Heartbeat", {})
    msg_id = s._pending and next(iter(s._pending))
    await st.ws.send(f'[4,"{msg_id}","NotSupported","no unlocking here",{{}}]')
    with pytest.raises(OcppCallError) as info:
        await task
    assert info.value.code == "NotSupported"
    await st.close()


async def test_station_booted_after_every_accepted_boot(csms_app: CsmsApp) -> None:
    sink = RecordingSink()
    csms_app.core.sinks.append(sink)
    st = await booted(csms_app.url, "CP-boot")
    await sink.wait_for("booted", 1)
    await st.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    await sink.wait_for("booted", 2)
    assert all(b.station_id == "CP-boot" for b in sink.booted)
    states = sink.of("station_state")
    assert [s.online for s in states] == [True, True] and states[0].boot_status == "Accepted"
    await st.close()
    await sink.wait_for("station_state", 3)
    assert sink.of("station_state")[-1].online is False
