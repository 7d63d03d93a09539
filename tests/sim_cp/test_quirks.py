"""The quirk switches: each one changes what the station answers or does."""

from __future__ import annotations

from typing import Any

import pytest

from evcommon.clock import ManualClock
from simulators.chargepoint import ConstantEv
from tests.plugins.sim_cp import MiniCsms, profile_request
from tests.sim_cp.conftest import MakeStation

VERSIONS = ["1.6", "2.0.1"]


async def set_profile(csms: MiniCsms, version: str, *args: Any, **kw: Any) -> Any:
    return await csms.call("CP-1", "SetChargingProfile", profile_request(version, *args, **kw))


@pytest.mark.parametrize("version", VERSIONS)
async def test_rate_units_a_only(
    mini_csms: MiniCsms, make_station: MakeStation, version: str
) -> None:
    st = await make_station(mini_csms.url, ocpp_version=version, quirks={"rate_units": "A"})
    assert (await set_profile(mini_csms, version, 1, "TxDefaultProfile", 3300, unit="W"))[
        "status"
    ] == "Rejected"
    assert (await set_profile(mini_csms, version, 1, "TxDefaultProfile", 13.75, unit="A"))[
        "status"
    ] == "Accepted"
    assert st.limit_kw(1) == pytest.approx(3.3)  # 13.75 A x 240 V, one phase
    req = (
        {"connectorId": 1, "duration": 60, "chargingRateUnit": "W"}
        if version == "1.6"
        else {"evseId": 1, "duration": 60, "chargingRateUnit": "W"}
    )
    assert (await mini_csms.call("CP-1", "GetCompositeSchedule", req))["status"] == "Rejected"


@pytest.mark.parametrize("version", VERSIONS)
async def test_stack_level_and_period_limits(
    mini_csms: MiniCsms, make_station: MakeStation, version: str
) -> None:
    await make_station(
        mini_csms.url,
        ocpp_version=version,
        quirks={"max_stack_level": 0, "max_schedule_periods": 2},
    )
    assert (await set_profile(mini_csms, version, 1, "TxDefaultProfile", 3000, stack_level=1))[
        "status"
    ] == "Rejected"
    assert (await set_profile(mini_csms, version, 1, "TxDefaultProfile", [3000, 4000, 5000]))[
        "status"
    ] == "Rejected"
    assert (await set_profile(mini_csms, version, 1, "TxDefaultProfile", [3000, 4000]))[
        "status"
    ] == "Accepted"


@pytest.mark.parametrize("version", VERSIONS)
async def test_refuses_station_max_profile(
    mini_csms: MiniCsms, make_station: MakeStation, version: str
) -> None:
    await make_station(
        mini_csms.url, ocpp_version=version, quirks={"refuses_station_max_profile": True}
    )
    res = await set_profile(mini_csms, version, 1, "ChargePointMaxProfile", 5000, connector_id=0)
    assert res["status"] == "Rejected"
    assert (await set_profile(mini_csms, version, 2, "TxDefaultProfile", 5000, connector_id=0))[
        "status"
    ] == "Accepted"


@pytest.mark.parametrize("version", VERSIONS)
async def test_station_max_profile_shared_and_relative_refused(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock, version: str
) -> None:
    st = await make_station(mini_csms.url, ocpp_version=version, connectors=2, meter_interval_s=60)
    res = await set_profile(
        mini_csms, version, 1, "ChargePointMaxProfile", 5000, kind="Relative", connector_id=0
    )
    assert res[:2] == ("CALLERROR", "PropertyConstraintViolation")
    assert (
        await set_profile(mini_csms, version, 1, "ChargePointMaxProfile", 8000, connector_id=0)
    )["status"] == "Accepted"
    await st.plug_in(1, ConstantEv(max_kw=7.2))
    await st.plug_in(2, ConstantEv(max_kw=2.0, id_token="T2"))
    await clock.advance(60)
    # 8 kW for the station: connector 2 wants 2 kW, connector 1 gets the other 6 kW
    assert st.power_kw(2) == pytest.approx(2.0)
    assert st.power_kw(1) == pytest.approx(6.0)


@pytest.mark.parametrize("version", VERSIONS)
async def test_tx_profile_outside_a_transaction(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock, version: str
) -> None:
    st = await make_station(mini_csms.url, ocpp_version=version, meter_interval_s=60)
    assert (await set_profile(mini_csms, version, 1, "TxProfile", 2000))["status"] == "Rejected"
    await st.plug_in(1, ConstantEv(max_kw=7.2))
    await st.flush()
    tx = st.transaction_id(1)
    assert (await set_profile(mini_csms, version, 1, "TxProfile", 2000, transaction_id=tx))[
        "status"
    ] == "Accepted"
    assert st.limit_kw(1) == pytest.approx(2.0)
    await st.stop_charging(1)
    assert st.limit_kw(1) == pytest.approx(6.6)  # TxProfiles end with their transaction


@pytest.mark.parametrize("version", VERSIONS)
async def test_lenient_station_keeps_tx_profile_for_next_transaction(
    mini_csms: MiniCsms, make_station: MakeStation, version: str
) -> None:
    st = await make_station(
        mini_csms.url,
        ocpp_version=version,
        quirks={"refuses_tx_profile_without_transaction": False},
    )
    assert (await set_profile(mini_csms, version, 1, "TxProfile", 2000))["status"] == "Accepted"
    assert st.limit_kw(1) == pytest.approx(6.6)
    await st.plug_in(1, ConstantEv(max_kw=7.2))
    assert st.limit_kw(1) == pytest.approx(2.0)


@pytest.mark.parametrize("version", VERSIONS)
async def test_external_load_management_rejects_everything(
    mini_csms: MiniCsms, make_station: MakeStation, version: str
) -> None:
    await make_station(
        mini_csms.url, ocpp_version=version, quirks={"external_load_management_disabled": True}
    )
    for pid, purpose, cid in (
        (1, "ChargePointMaxProfile", 0),
        (2, "TxDefaultProfile", 0),
        (3, "TxDefaultProfile", 1),
    ):
        assert (await set_profile(mini_csms, version, pid, purpose, 5000, connector_id=cid))[
            "status"
        ] == "Rejected"


@pytest.mark.parametrize("version", VERSIONS)
async def test_ignores_limits_draws_more_than_accepted(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock, version: str
) -> None:
    st = await make_station(
        mini_csms.url, ocpp_version=version, meter_interval_s=60, quirks={"ignores_limits": True}
    )
    await st.plug_in(1, ConstantEv(max_kw=7.2))
    assert (await set_profile(mini_csms, version, 1, "TxDefaultProfile", 3300, connector_id=0))[
        "status"
    ] == "Accepted"
    await clock.advance(60)
    assert st.limit_kw(1) == pytest.approx(3.3)  # what it claims
    assert st.power_kw(1) == pytest.approx(6.6)  # what it draws


@pytest.mark.parametrize("version", VERSIONS)
async def test_clear_by_criteria_unknown(
    mini_csms: MiniCsms, make_station: MakeStation, version: str
) -> None:
    st = await make_station(
        mini_csms.url, ocpp_version=version, quirks={"clear_by_criteria_unknown": True}
    )
    await set_profile(mini_csms, version, 7, "TxDefaultProfile", 3000, connector_id=0)
    by_purpose = (
        {"chargingProfilePurpose": "TxDefaultProfile"}
        if version == "1.6"
        else {"chargingProfileCriteria": {"chargingProfilePurpose": "TxDefaultProfile"}}
    )
    assert (await mini_csms.call("CP-1", "ClearChargingProfile", by_purpose))["status"] == "Unknown"
    assert st.limit_kw(1) == pytest.approx(3.0)
    by_id = {"id": 7} if version == "1.6" else {"chargingProfileId": 7}
    assert (await mini_csms.call("CP-1", "ClearChargingProfile", by_id))["status"] == "Accepted"
    assert st.limit_kw(1) == pytest.approx(6.6)
    assert (await mini_csms.call("CP-1", "ClearChargingProfile", by_id))["status"] == "Unknown"


@pytest.mark.parametrize("version", VERSIONS)
async def test_clear_by_criteria_works_on_a_normal_station(
    mini_csms: MiniCsms, make_station: MakeStation, version: str
) -> None:
    st = await make_station(mini_csms.url, ocpp_version=version)
    await set_profile(mini_csms, version, 7, "TxDefaultProfile", 3000, connector_id=0)
    by_purpose = (
        {"chargingProfilePurpose": "TxDefaultProfile"}
        if version == "1.6"
        else {"chargingProfileCriteria": {"chargingProfilePurpose": "TxDefaultProfile"}}
    )
    assert (await mini_csms.call("CP-1", "ClearChargingProfile", by_purpose))[
        "status"
    ] == "Accepted"
    assert st.limit_kw(1) == pytest.approx(6.6)


@pytest.mark.parametrize(
    ("version", "lose"), [("1.6", True), ("1.6", False), ("2.0.1", True), ("2.0.1", False)]
)
async def test_reboot_loses_profiles_unless_configured(
    mini_csms: MiniCsms, make_station: MakeStation, version: str, lose: bool
) -> None:
    st = await make_station(
        mini_csms.url, ocpp_version=version, quirks={"lose_profiles_on_reboot": lose}
    )
    await st.plug_in(1, ConstantEv(max_kw=7.2))
    await set_profile(mini_csms, version, 1, "ChargePointMaxProfile", 4000, connector_id=0)
    assert st.limit_kw(1) == pytest.approx(4.0)
    reset = {"type": "Hard"} if version == "1.6" else {"type": "Immediate"}
    assert (await mini_csms.call("CP-1", "Reset", reset))["status"] == "Accepted"
    await mini_csms.wait_for(lambda: len(mini_csms.of("BootNotification")) == 2)
    await st.wait_online()
    await st.flush()
    assert st.boot_count == 2
    assert st.limit_kw(1) == pytest.approx(6.6 if lose else 4.0)
    # the transaction ended with the reset and a new one started for the EV still plugged in
    if version == "1.6":
        stops = mini_csms.of("StopTransaction")
        assert stops[0].payload["reason"] == "HardReset"
        assert len(mini_csms.of("StartTransaction")) == 2
        boot = mini_csms.of("BootNotification")[1].payload
        assert boot["chargePointModel"] == "Sim-L2"
    else:
        events = [r.payload for r in mini_csms.of("TransactionEvent")]
        ended = [e for e in events if e["eventType"] == "Ended"]
        assert ended[0]["transactionInfo"]["stoppedReason"] == "ImmediateReset"
        assert [e["eventType"] for e in events].count("Started") == 2
        assert mini_csms.of("BootNotification")[1].payload["reason"] == "RemoteReset"


async def test_v201_profile_rules(mini_csms: MiniCsms, make_station: MakeStation) -> None:
    await make_station(mini_csms.url, ocpp_version="2.0.1")
    v = "2.0.1"
    assert (await set_profile(mini_csms, v, 1, "TxDefaultProfile", 3000, start=None))[
        "status"
    ] == "Rejected"
    assert (await set_profile(mini_csms, v, 1, "TxDefaultProfile", 3000))["status"] == "Accepted"
    # same purpose and stack level on the same EVSE, another id: K01.FR.06 rejects it
    assert (await set_profile(mini_csms, v, 2, "TxDefaultProfile", 3000))["status"] == "Rejected"
    # the same id replaces (K01.FR.05)
    assert (await set_profile(mini_csms, v, 1, "TxDefaultProfile", 2500))["status"] == "Accepted"
    res = await mini_csms.call(
        "CP-1",
        "GetChargingProfiles",
        {"requestId": 3, "chargingProfile": {"chargingProfilePurpose": "TxDefaultProfile"}},
    )
    assert res["status"] == "Accepted"
    await mini_csms.wait_action("ReportChargingProfiles")
    report = mini_csms.of("ReportChargingProfiles")[0].payload
    assert [p["id"] for p in report["chargingProfile"]] == [1]
    assert (
        report["chargingProfile"][0]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"]
        == 2500
    )
    ext = profile_request(v, 9, "ChargingStationExternalConstraints", 1000, connector_id=0)
    assert (await mini_csms.call("CP-1", "SetChargingProfile", ext))["status"] == "Rejected"


async def test_v16_same_stack_and_purpose_replaces(
    mini_csms: MiniCsms, make_station: MakeStation
) -> None:
    st = await make_station(mini_csms.url, ocpp_version="1.6")
    await set_profile(mini_csms, "1.6", 1, "TxDefaultProfile", 3000)
    await set_profile(mini_csms, "1.6", 2, "TxDefaultProfile", 5000)
    assert [p.profile_id for p in st.store.profiles] == [2]
    assert st.limit_kw(1) == pytest.approx(5.0)


async def test_external_limit_binds_and_cannot_be_cleared_by_the_csms(
    mini_csms: MiniCsms, make_station: MakeStation
) -> None:
    st = await make_station(mini_csms.url, ocpp_version="2.0.1")
    st.set_external_limit(2000.0)
    assert st.limit_kw(1) == pytest.approx(2.0)
    crit = {
        "chargingProfileCriteria": {"chargingProfilePurpose": "ChargingStationExternalConstraints"}
    }
    assert (await mini_csms.call("CP-1", "ClearChargingProfile", crit))["status"] == "Unknown"
    assert (await mini_csms.call("CP-1", "ClearChargingProfile", {"chargingProfileId": -1}))[
        "status"
    ] == "Unknown"
    assert st.limit_kw(1) == pytest.approx(2.0)
    st.set_external_limit(None)
    assert st.limit_kw(1) == pytest.approx(6.6)
