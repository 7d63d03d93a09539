"""Version-neutral CSMS -> station operations over a StationSession.

Each returns the station's status string (or the data asked for) and raises
csms.errors (StationOffline, StationNotReady, CallTimeout, OcppCallError) on failure.
An operation that the station's OCPP version does not have raises OcppCallError
with code NotSupported before anything is sent.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

from csms.errors import OcppCallError
from csms.ports import StationSession

_remote_start_ids = itertools.count(1)


def _only(session: StationSession, version: str, op: str) -> None:
    if session.ocpp_version != version:
        raise OcppCallError("NotSupported", f"{op} is OCPP {version} only")


async def remote_start(
    session: StationSession, *, id_token: str, connector_id: int | None = None
) -> str:
    if session.ocpp_version == "1.6":
        payload: dict[str, Any] = {"idTag": id_token}
        if connector_id is not None:
            payload["connectorId"] = connector_id
        reply = await session.call("RemoteStartTransaction", payload)
    else:
        payload = {
            "idToken": {"idToken": id_token, "type": "Central"},
            "remoteStartId": next(_remote_start_ids),
        }
        if connector_id is not None:
            payload["evseId"] = connector_id
        reply = await session.call("RequestStartTransaction", payload)
    return str(reply["status"])


async def remote_stop(session: StationSession, *, transaction_id: str) -> str:
    if session.ocpp_version == "1.6":
        try:
            tx = int(transaction_id)
        except ValueError:
            raise OcppCallError("PropertyConstraintViolation", "1.6 ids are integers") from None
        reply = await session.call("RemoteStopTransaction", {"transactionId": tx})
    else:
        reply = await session.call("RequestStopTransaction", {"transactionId": transaction_id})
    return str(reply["status"])


async def reset(session: StationSession, *, kind: Literal["soft", "hard"]) -> str:
    if session.ocpp_version == "1.6":
        reply = await session.call("Reset", {"type": "Hard" if kind == "hard" else "Soft"})
    else:
        reply = await session.call("Reset", {"type": "Immediate" if kind == "hard" else "OnIdle"})
    return str(reply["status"])


async def change_availability(
    session: StationSession, *, connector_id: int, available: bool
) -> str:
    state = "Operative" if available else "Inoperative"
    if session.ocpp_version == "1.6":
        payload: dict[str, Any] = {"connectorId": connector_id, "type": state}
    else:
        payload = {"operationalStatus": state}
        if connector_id:
            payload["evse"] = {"id": connector_id}
    reply = await session.call("ChangeAvailability", payload)
    return str(reply["status"])


async def trigger_message(
    session: StationSession, *, message: str, connector_id: int | None = None
) -> str:
    payload: dict[str, Any] = {"requestedMessage": message}
    if connector_id is not None:
        if session.ocpp_version == "1.6":
            payload["connectorId"] = connector_id
        else:
            payload["evse"] = {"id": connector_id}
    reply = await session.call("TriggerMessage", payload)
    return str(reply["status"])


async def unlock_connector(
    session: StationSession, *, connector_id: int, evse_connector_id: int = 1
) -> str:
    if session.ocpp_version == "1.6":
        reply = await session.call("UnlockConnector", {"connectorId": connector_id})
    else:
        reply = await session.call(
            "UnlockConnector", {"evseId": connector_id, "connectorId": evse_connector_id}
        )
    return str(reply["status"])


async def get_configuration(
    session: StationSession, keys: list[str] | None = None
) -> dict[str, str | None]:
    """1.6: key -> value (None for keys the station does not know or has no value for)."""
    _only(session, "1.6", "GetConfiguration")
    reply = await session.call("GetConfiguration", {"key": keys} if keys else {})
    out: dict[str, str | None] = {
        k["key"]: k.get("value") for k in reply.get("configurationKey", [])
    }
    for key in reply.get("unknownKey", []):
        out[key] = None
    return out


async def change_configuration(session: StationSession, *, key: str, value: str) -> str:
    _only(session, "1.6", "ChangeConfiguration")
    reply = await session.call("ChangeConfiguration", {"key": key, "value": value})
    return str(reply["status"])


def _cv(component: str, variable: str) -> dict[str, Any]:
    return {"component": {"name": component}, "variable": {"name": variable}}


async def get_variables(
    session: StationSession, items: list[tuple[str, str]]
) -> dict[tuple[str, str], str | None]:
    """2.0.1: (component, variable) -> value (None unless the attribute was Accepted)."""
    _only(session, "2.0.1", "GetVariables")
    reply = await session.call("GetVariables", {"getVariableData": [_cv(c, v) for c, v in items]})
    out: dict[tuple[str, str], str | None] = {}
    for r in reply.get("getVariableResult", []):
        key = (r["component"]["name"], r["variable"]["name"])
        out[key] = r.get("attributeValue") if r.get("attributeStatus") == "Accepted" else None
    return out


async def set_variables(
    session: StationSession, values: dict[tuple[str, str], str]
) -> dict[tuple[str, str], str]:
    """2.0.1: (component, variable) -> attributeStatus."""
    _only(session, "2.0.1", "SetVariables")
    data = [{**_cv(c, v), "attributeValue": value} for (c, v), value in values.items()]
    reply = await session.call("SetVariables", {"setVariableData": data})
    return {
        (r["component"]["name"], r["variable"]["name"]): str(r["attributeStatus"])
        for r in reply.get("setVariableResult", [])
    }


async def get_base_report(
    session: StationSession, *, request_id: int, report_base: str = "FullInventory"
) -> str:
    """2.0.1: ask for a NotifyReport stream (stored in device_variables as it arrives)."""
    _only(session, "2.0.1", "GetBaseReport")
    reply = await session.call(
        "GetBaseReport", {"requestId": request_id, "reportBase": report_base}
    )
    return str(reply["status"])
