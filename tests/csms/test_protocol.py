"""Framing and schema validation: the spec's CALLERROR code for each kind of bad input."""

from __future__ import annotations

import pytest

from csms.ocpp import protocol
from csms.ocpp.protocol import Call, CallError, CallResult, FrameError


def _err(raw: str, version: protocol.Version = "1.6") -> FrameError:
    with pytest.raises(FrameError) as info:
        protocol.parse(raw, version)
    return info.value


def test_parses_the_three_frame_types() -> None:
    assert protocol.parse('[2,"a","Heartbeat",{}]', "1.6") == Call("a", "Heartbeat", {})
    assert protocol.parse('[3,"a",{"x":1}]', "1.6") == CallResult("a", {"x": 1})
    err = protocol.parse('[4,"a","NotSupported","no",{}]', "2.0.1")
    assert err == CallError("a", "NotSupported", "no", {})


@pytest.mark.parametrize(
    ("raw", "v16", "v201", "message_id"),
    [
        ("{not json", "FormationViolation", "FormatViolation", "-1"),
        ('{"a": 1}', "ProtocolError", "RpcFrameworkError", "-1"),
        ('[2, 17, "Heartbeat", {}]', "ProtocolError", "RpcFrameworkError", "-1"),
        ('[2, "m1", "Heartbeat"]', "ProtocolError", "RpcFrameworkError", "m1"),
        ('[2, "m1", "Heartbeat", []]', "FormationViolation", "FormatViolation", "m1"),
        ('[7, "m1", {}]', "ProtocolError", "MessageTypeNotSupported", "m1"),
        ('[3, "m1", {}, 4]', "ProtocolError", "RpcFrameworkError", "m1"),
    ],
)
def test_bad_frames_get_the_versions_code(raw: str, v16: str, v201: str, message_id: str) -> None:
    assert (_err(raw, "1.6").code, _err(raw, "1.6").message_id) == (v16, message_id)
    assert _err(raw, "2.0.1").code == v201


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"connectorId": "one", "meterValue": []}, "TypeConstraintViolation"),
        ({"meterValue": []}, "ProtocolError"),
        (
            {
                "connectorId": 1,
                "meterValue": [
                    {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "1", "x": 1}]}
                ],
            },
            "FormationViolation",
        ),
        ({"connectorId": 1, "meterValue": []}, "OccurenceConstraintViolation"),
        (
            {
                "connectorId": 1,
                "meterValue": [
                    {
                        "timestamp": "2026-01-01T00:00:00Z",
                        "sampledValue": [{"value": "1", "unit": "MW"}],
                    }
                ],
            },
            "PropertyConstraintViolation",
        ),
    ],
)
def test_schema_violations_16(payload: dict[str, object], code: str) -> None:
    with pytest.raises(FrameError) as info:
        protocol.validate("1.6", "m", "MeterValues", payload)
    assert info.value.code == code


def test_schema_violations_201() -> None:
    with pytest.raises(FrameError) as info:
        protocol.validate("2.0.1", "m", "BootNotification", {"reason": "PowerUp", "x": 1})
    assert info.value.code in ("FormatViolation", "ProtocolError")
    with pytest.raises(FrameError) as info:
        protocol.validate(
            "2.0.1",
            "m",
            "BootNotification",
            {"reason": "Bogus", "chargingStation": {"model": "m", "vendorName": "v"}},
        )
    assert info.value.code == "PropertyConstraintViolation"
    with pytest.raises(FrameError) as info:
        protocol.validate(
            "2.0.1",
            "m",
            "BootNotification",
            {"reason": "PowerUp", "chargingStation": {"model": "m", "vendorName": "v", "x": 1}},
        )
    assert info.value.code == "FormatViolation"
    protocol.validate(
        "2.0.1",
        "m",
        "BootNotification",
        {"reason": "PowerUp", "chargingStation": {"model": "m", "vendorName": "v"}},
    )


def test_known_actions_cover_both_directions() -> None:
    assert {"BootNotification", "Reset", "SetChargingProfile"} <= protocol.known_actions("1.6")
    assert {"TransactionEvent", "GetVariables"} <= protocol.known_actions("2.0.1")
    assert "TransactionEvent" not in protocol.known_actions("1.6")
