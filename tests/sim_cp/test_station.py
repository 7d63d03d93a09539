"""A simulated station against a minimal real OCPP server: lifecycle and metering."""

from __future__ import annotations

import json

import pytest

from evcommon.clock import ManualClock
from simulators.chargepoint import ConstantEv
from tests.plugins.sim_cp import MiniCsms, profile_request
from tests.sim_cp.conftest import MakeStation

VERSIONS = ["1.6", "2.0.1"]


def tx_actions(csms: MiniCsms) -> list[str]:
    keep = {"StartTransaction", "StopTransaction", "MeterValues", "TransactionEvent"}
    return [a for a in csms.actions() if a in keep]


@pytest.mark.parametrize("version", VERSIONS)
async def test_boot_charge_meter_stop(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock, version: str
) -> None:
    st = await make_station(mini_csms.url, ocpp_version=version, meter_interval_s=60)
    assert mini_csms.subprotocols["CP-1"] == ("ocpp1.6" if version == "1.6" else "ocpp2.0.1")
    assert await st.plug_in(1, ConstantEv(max_kw=7.2, capacity_kwh=60, soc_start_pct=20))
    await clock.advance(60)
    await clock.advance(60)
    await st.flush()
    assert st.power_kw(1) == pytest.approx(6.6)  # L2 preset hardware limit
    await st.stop_charging(1)
    await st.unplug(1)
    await st.flush()
    if version == "1.6":
        assert tx_actions(mini_csms) == [
            "StartTransaction",
            "MeterValues",
            "MeterValues",
            "StopTransaction",
        ]
        mv = mini_csms.of("MeterValues")[-1].payload
        assert mv["transactionId"] == 100
        sampled = {v["measurand"]: v for v in mv["meterValue"][0]["sampledValue"]}
        assert sampled["Energy.Active.Import.Register"]["value"] == "220.0"  # 6.6 kW x 2 min
        assert sampled["Power.Active.Import"]["unit"] == "W"
        assert sampled["SoC"]["value"] == "20.4" and sampled["SoC"]["location"] == "EV"
        stop = mini_csms.of("StopTransaction")[0].payload
        assert stop["meterStop"] == 220 and stop["transactionId"] == 100
        assert stop["transactionData"][0]["sampledValue"][0]["context"] == "Transaction.End"
        statuses = [
            r.payload["status"]
            for r in mini_csms.of("StatusNotification")
            if r.payload["connectorId"] == 1
        ]
        assert statuses == ["Available", "Preparing", "Charging", "Finishing", "Available"]
    else:
        events = [r.payload for r in mini_csms.of("TransactionEvent")]
        assert [e["eventType"] for e in events] == ["Started", "Updated", "Updated", "Ended"]
        assert [e["seqNo"] for e in events] == [0, 1, 2, 3]
        assert len({e["transactionInfo"]["transactionId"] for e in events}) == 1
        assert events[0]["meterValue"][0]["sampledValue"][0]["context"] == "Transaction.Begin"
        end = events[-1]
        assert end["transactionInfo"]["stoppedReason"] == "Local"
        assert end["meterValue"][0]["sampledValue"][0]["value"] == 220.0
        assert not any(e.get("offline") for e in events)
        statuses = [r.payload["connectorStatus"] for r in mini_csms.of("StatusNotification")]
        assert statuses == ["Available", "Occupied", "Available"]
    assert st.queue.dropped == 0


@pytest.mark.parametrize("version", VERSIONS)
async def test_limit_brings_power_down_within_one_meter_interval(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock, version: str
) -> None:
    st = await make_station(mini_csms.url, ocpp_version=version, meter_interval_s=60)
    await st.plug_in(1, ConstantEv(max_kw=7.2))
    await clock.advance(60)
    assert st.power_kw(1) == pytest.approx(6.6)
    await clock.advance(20)
    if version == "1.6":
        req = {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 5,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "chargingRateUnit": "W",
                    "startSchedule": "2026-07-01T00:00:00Z",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3300}],
                },
            },
        }
    else:
        req = {
            "evseId": 1,
            "chargingProfile": {
                "id": 5,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": [
                    {
                        "id": 1,
                        "chargingRateUnit": "W",
                        "startSchedule": "2026-07-01T00:00:00Z",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3300}],
                    }
                ],
            },
        }
    assert (await mini_csms.call("CP-1", "SetChargingProfile", req))["status"] == "Accepted"
    assert st.limit_kw(1) == pytest.approx(3.3)
    await clock.advance(40)  # the next meter sample
    await st.flush()
    assert st.power_kw(1) == pytest.approx(3.3)
    # energy is exact across the change: 80 s at 6.6 kW + 40 s at 3.3 kW
    assert st.energy_kwh(1) == pytest.approx((80 * 6.6 + 40 * 3.3) / 3600)
    last = mini_csms.of("MeterValues" if version == "1.6" else "TransactionEvent")[-1].payload
    sampled = {v["measurand"]: v for v in last["meterValue"][0]["sampledValue"]}
    assert float(sampled["Power.Active.Import"]["value"]) == pytest.approx(3300)
    comp_req = (
        {"connectorId": 1, "duration": 600} if version == "1.6" else {"evseId": 1, "duration": 600}
    )
    comp = await mini_csms.call("CP-1", "GetCompositeSchedule", comp_req)
    sched = comp["chargingSchedule"] if version == "1.6" else comp["schedule"]
    assert sched["chargingRateUnit"] == "A"  # the station's own unit when none is asked
    assert sched["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 13.8}]  # 3300/240


async def test_malformed_and_unknown_calls_get_callerrors(
    mini_csms: MiniCsms, make_station: MakeStation
) -> None:
    await make_station(mini_csms.url, ocpp_version="1.6")
    res = await mini_csms.call("CP-1", "FlyToTheMoon", {})
    assert res[:2] == ("CALLERROR", "NotImplemented")
    res = await mini_csms.call("CP-1", "Reset", {"type": "Sideways"})
    assert res[:2] == ("CALLERROR", "PropertyConstraintViolation")
    res = await mini_csms.call(
        "CP-1", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": 5}
    )
    assert res[:2] == ("CALLERROR", "TypeConstraintViolation")
    res = await mini_csms.call("CP-1", "Reset", {})
    assert res[:2] == ("CALLERROR", "OccurenceConstraintViolation")
    # the connection survived
    assert await mini_csms.call(
        "CP-1", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}
    ) == {"status": "Accepted"}


async def test_send_raw_frame(mini_csms: MiniCsms, make_station: MakeStation) -> None:
    st = await make_station(mini_csms.url, ocpp_version="2.0.1")
    await st.send_raw(json.dumps([2, "raw-1", "Heartbeat", {}]))
    await mini_csms.wait_for(lambda: len(mini_csms.of("Heartbeat")) == 1)


async def test_configuration_1_6(mini_csms: MiniCsms, make_station: MakeStation) -> None:
    await make_station(
        mini_csms.url, ocpp_version="1.6", quirks={"rate_units": "A", "max_stack_level": 0}
    )
    res = await mini_csms.call(
        "CP-1",
        "GetConfiguration",
        {"key": ["ChargingScheduleAllowedChargingRateUnit", "ChargeProfileMaxStackLevel", "Nope"]},
    )
    assert {k["key"]: k["value"] for k in res["configurationKey"]} == {
        "ChargingScheduleAllowedChargingRateUnit": "Current",
        "ChargeProfileMaxStackLevel": "0",
    }
    assert res["unknownKey"] == ["Nope"]
    assert (
        await mini_csms.call(
            "CP-1", "ChangeConfiguration", {"key": "ChargeProfileMaxStackLevel", "value": "3"}
        )
    )["status"] == "Rejected"
    assert (await mini_csms.call("CP-1", "ChangeConfiguration", {"key": "Nope", "value": "3"}))[
        "status"
    ] == "NotSupported"


async def test_device_model_2_0_1(mini_csms: MiniCsms, make_station: MakeStation) -> None:
    await make_station(mini_csms.url, ocpp_version="2.0.1", quirks={"rate_units": "W"})
    res = await mini_csms.call(
        "CP-1",
        "GetVariables",
        {
            "getVariableData": [
                {"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": "RateUnit"}},
                {"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": "Nope"}},
                {"component": {"name": "Nope"}, "variable": {"name": "X"}},
            ]
        },
    )
    results = res["getVariableResult"]
    assert [r["attributeStatus"] for r in results] == [
        "Accepted",
        "UnknownVariable",
        "UnknownComponent",
    ]
    assert results[0]["attributeValue"] == "W"
    res = await mini_csms.call(
        "CP-1",
        "SetVariables",
        {
            "setVariableData": [
                {
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                    "attributeValue": "120",
                },
                {
                    "component": {"name": "SmartChargingCtrlr"},
                    "variable": {"name": "RateUnit"},
                    "attributeValue": "A",
                },
            ]
        },
    )
    assert [r["attributeStatus"] for r in res["setVariableResult"]] == ["Accepted", "Rejected"]
    assert (
        await mini_csms.call(
            "CP-1", "GetBaseReport", {"requestId": 7, "reportBase": "FullInventory"}
        )
    )["status"] == "Accepted"
    await mini_csms.wait_action("NotifyReport")
    report = mini_csms.of("NotifyReport")[0].payload
    assert report["requestId"] == 7 and not report["tbc"]
    names = {(d["component"]["name"], d["variable"]["name"]) for d in report["reportData"]}
    assert ("SmartChargingCtrlr", "ProfileStackLevel") in names


@pytest.mark.parametrize("version", VERSIONS)
async def test_remote_start_and_stop(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock, version: str
) -> None:
    st = await make_station(mini_csms.url, ocpp_version=version)
    if version == "1.6":
        res = await mini_csms.call(
            "CP-1", "RemoteStartTransaction", {"idTag": "REMOTE", "connectorId": 1}
        )
    else:
        res = await mini_csms.call(
            "CP-1",
            "RequestStartTransaction",
            {"idToken": {"idToken": "REMOTE", "type": "Central"}, "remoteStartId": 9, "evseId": 1},
        )
    assert res["status"] == "Accepted"
    assert await st.plug_in(1, ConstantEv())  # the remote start waits for the cable
    await st.flush()
    tx_id = st.transaction_id(1)
    assert tx_id is not None
    if version == "1.6":
        assert mini_csms.of("StartTransaction")[0].payload["idTag"] == "REMOTE"
        res = await mini_csms.call("CP-1", "RemoteStopTransaction", {"transactionId": int(tx_id)})
        await mini_csms.wait_action("StopTransaction")
        assert mini_csms.of("StopTransaction")[0].payload["reason"] == "Remote"
    else:
        started = mini_csms.of("TransactionEvent")[0].payload
        assert (
            started["triggerReason"] == "RemoteStart"
            and started["transactionInfo"]["remoteStartId"] == 9
        )
        res = await mini_csms.call("CP-1", "RequestStopTransaction", {"transactionId": tx_id})
        await mini_csms.wait_for(
            lambda: mini_csms.of("TransactionEvent")[-1].payload["eventType"] == "Ended"
        )
        assert mini_csms.of("TransactionEvent")[-1].payload["triggerReason"] == "RemoteStop"
    assert res["status"] == "Accepted"
    assert st.transaction_id(1) is None


@pytest.mark.parametrize("version", VERSIONS)
async def test_trigger_and_availability(
    mini_csms: MiniCsms, make_station: MakeStation, version: str
) -> None:
    await make_station(mini_csms.url, ocpp_version=version)
    res = await mini_csms.call("CP-1", "TriggerMessage", {"requestedMessage": "Heartbeat"})
    assert res["status"] == "Accepted"
    await mini_csms.wait_action("Heartbeat")
    if version == "1.6":
        res = await mini_csms.call(
            "CP-1", "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}
        )
        await mini_csms.wait_for(
            lambda: mini_csms.of("StatusNotification")[-1].payload["status"] == "Unavailable"
        )
        assert (await mini_csms.call("CP-1", "UnlockConnector", {"connectorId": 1}))[
            "status"
        ] == "Unlocked"
    else:
        res = await mini_csms.call(
            "CP-1", "ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}}
        )
        await mini_csms.wait_for(
            lambda: (
                mini_csms.of("StatusNotification")[-1].payload["connectorStatus"] == "Unavailable"
            )
        )
        assert (await mini_csms.call("CP-1", "UnlockConnector", {"evseId": 1, "connectorId": 1}))[
            "status"
        ] == "Unlocked"
    assert res["status"] == "Accepted"


@pytest.mark.parametrize("version", VERSIONS)
async def test_availability_change_during_a_transaction_is_scheduled(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock, version: str
) -> None:
    st = await make_station(mini_csms.url, ocpp_version=version, meter_interval_s=60)
    await st.plug_in(1, ConstantEv(max_kw=7.2))
    if version == "1.6":
        req: dict[str, object] = {"connectorId": 1, "type": "Inoperative"}
    else:
        req = {"operationalStatus": "Inoperative", "evse": {"id": 1}}
    assert (await mini_csms.call("CP-1", "ChangeAvailability", req))["status"] == "Scheduled"
    await clock.advance(60)
    assert st.power_kw(1) == pytest.approx(6.6)  # keeps charging
    await st.stop_charging(1)
    assert not st.connectors[1].operative


async def test_v201_reset_on_idle_waits_for_the_transaction(
    mini_csms: MiniCsms, make_station: MakeStation
) -> None:
    st = await make_station(mini_csms.url, ocpp_version="2.0.1")
    await st.plug_in(1, ConstantEv(max_kw=7.2))
    assert (await mini_csms.call("CP-1", "Reset", {"type": "OnIdle"}))["status"] == "Scheduled"
    assert st.boot_count == 1 and st.transaction_id(1) is not None
    await st.stop_charging(1)
    await mini_csms.wait_for(lambda: len(mini_csms.of("BootNotification")) == 2)


async def test_bad_csms_answers_are_recorded_and_survived(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock
) -> None:
    st = await make_station(
        mini_csms.url,
        ocpp_version="1.6",
        transaction_message_attempts=2,
        transaction_message_retry_interval_s=0.05,
    )
    mini_csms.answers["StartTransaction"] = {"idTagInfo": {"status": "Accepted"}}  # no id
    await st.plug_in(1, ConstantEv())
    await st.flush()
    assert st.bad_answers and st.bad_answers[0][0] == "StartTransaction"
    assert st.queue.dropped == 1  # no transaction id: retried, then given up (and logged)
    assert st.online


async def test_mini_csms_answers_match_schemas(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock
) -> None:
    st = await make_station(mini_csms.url, ocpp_version="2.0.1", meter_interval_s=30)
    await st.plug_in(1, ConstantEv())
    await clock.advance(60)
    await st.stop_charging(1)
    await st.flush()
    assert st.bad_answers == []


async def test_three_phase_station_reports_current_per_phase_and_amps_bind_per_phase(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock
) -> None:
    st = await make_station(
        mini_csms.url, ocpp_version="1.6", connectors=2, max_power_kw=11.0, voltage_v=230, phases=3
    )
    await st.plug_in(1, ConstantEv(max_kw=11.0, phases=3))
    await st.plug_in(2, ConstantEv(max_kw=7.4, phases=1, id_token="T2"))
    req = profile_request("1.6", 1, "TxDefaultProfile", 10, unit="A", connector_id=0)
    assert (await mini_csms.call("CP-1", "SetChargingProfile", req))["status"] == "Accepted"
    await clock.advance(60)
    assert st.power_kw(1) == pytest.approx(6.9)  # 10 A x 230 V x 3 phases
    assert st.power_kw(2) == pytest.approx(2.3)  # the 1-phase EV gets 10 A on one phase
    await st.flush()
    by_connector = {r.payload["connectorId"]: r.payload for r in mini_csms.of("MeterValues")}
    currents = [
        (v.get("phase"), v["value"])
        for v in by_connector[1]["meterValue"][0]["sampledValue"]
        if v["measurand"] == "Current.Import"
    ]
    assert currents == [("L1", "10.0"), ("L2", "10.0"), ("L3", "10.0")]
    one = [
        v
        for v in by_connector[2]["meterValue"][0]["sampledValue"]
        if v["measurand"] == "Current.Import"
    ]
    assert [(v["phase"], v["value"]) for v in one] == [("L1", "10.0")]


@pytest.mark.parametrize("version", VERSIONS)
async def test_suspended_states_below_cutoff_and_when_full(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock, version: str
) -> None:
    st = await make_station(mini_csms.url, ocpp_version=version, meter_interval_s=60)
    ev = ConstantEv(max_kw=7.2, cutoff_kw=1.5, capacity_kwh=0.3)
    await st.plug_in(1, ev)
    req = profile_request(version, 1, "TxDefaultProfile", 1200, connector_id=0)
    assert (await mini_csms.call("CP-1", "SetChargingProfile", req))["status"] == "Accepted"
    await clock.advance(60)
    assert st.power_kw(1) == 0.0  # offered 1.2 kW, below the EV's cut-off
    await st.flush()
    clear = {"id": 1} if version == "1.6" else {"chargingProfileId": 1}
    assert (await mini_csms.call("CP-1", "ClearChargingProfile", clear))["status"] == "Accepted"
    for _ in range(4):  # 0.3 kWh at 6.6 kW: full within the third minute
        await clock.advance(60)
    await st.flush()
    assert ev.wants_to_stop and st.energy_kwh(1) == pytest.approx(0.3)
    if version == "1.6":
        await mini_csms.wait_for(lambda: len(mini_csms.of("StatusNotification")) >= 5)
        statuses = [
            r.payload["status"]
            for r in mini_csms.of("StatusNotification")
            if r.payload["connectorId"] == 1
        ]
        assert statuses[-3:] == ["SuspendedEV", "Charging", "SuspendedEV"]
    else:
        states = [
            r.payload["transactionInfo"]["chargingState"]
            for r in mini_csms.of("TransactionEvent")
            if r.payload["triggerReason"] == "ChargingStateChanged"
        ]
        assert states == ["SuspendedEV", "Charging", "SuspendedEV"]


async def test_remote_start_expires_without_a_cable(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock
) -> None:
    st = await make_station(mini_csms.url, ocpp_version="1.6")
    res = await mini_csms.call(
        "CP-1", "RemoteStartTransaction", {"idTag": "REMOTE", "connectorId": 1}
    )
    assert res["status"] == "Accepted"
    await clock.advance(121)  # ConnectionTimeOut is 120 s
    assert await st.plug_in(1, ConstantEv(id_token="OWN"))
    await st.flush()
    assert mini_csms.of("StartTransaction")[0].payload["idTag"] == "OWN"  # a local start


@pytest.mark.parametrize("version", VERSIONS)
async def test_csms_changes_the_meter_interval(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock, version: str
) -> None:
    st = await make_station(mini_csms.url, ocpp_version=version, meter_interval_s=60)
    if version == "1.6":
        req: dict[str, object] = {"key": "MeterValueSampleInterval", "value": "300"}
        assert (await mini_csms.call("CP-1", "ChangeConfiguration", req))["status"] == "Accepted"
    else:
        item = {
            "component": {"name": "SampledDataCtrlr"},
            "variable": {"name": "TxUpdatedInterval"},
            "attributeValue": "300",
        }
        res = await mini_csms.call("CP-1", "SetVariables", {"setVariableData": [item]})
        assert res["setVariableResult"][0]["attributeStatus"] == "Accepted"
    await clock.advance(60)  # the tick already due at the old interval
    await st.plug_in(1, ConstantEv())
    for _ in range(10):
        await clock.advance(60)
    await st.flush()
    periodic = (
        mini_csms.of("MeterValues")
        if version == "1.6"
        else [
            r
            for r in mini_csms.of("TransactionEvent")
            if r.payload["triggerReason"] == "MeterValuePeriodic"
        ]
    )
    assert len(periodic) == 2  # every 5 minutes instead of every minute
