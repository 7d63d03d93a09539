"""Pure tests: payload building for both versions, conversion, negotiation, planning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csms.smart import capabilities, plan
from csms.smart.errors import InvalidLimit
from csms.smart.profiles import (
    Period,
    ProfileSpec,
    clear_requests,
    composite_request,
    parse_composite,
    profile_id_for,
    set_profile_request,
)
from csms.smart.units import choose_rate_unit, kw_to_limit, limit_to_kw, parse_rate_units
from evcommon import contract

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def spec(**kw: object) -> ProfileSpec:
    base: dict[str, object] = dict(
        profile_id=7,
        connector_id=1,
        purpose="tx_default",
        stack_level=1,
        rate_unit="W",
        periods=(Period(0, 3300.0), Period(900, 6600.0)),
    )
    base.update(kw)
    return ProfileSpec(**base)  # type: ignore[arg-type]


def test_kw_to_a_rounds_down_to_one_decimal() -> None:
    # 3.3 kW on 230 V x 3 phases = 4.78 A -> 4.7 A (never above the asked power)
    assert kw_to_limit(3.3, "A", voltage_v=230, phases=3) == 4.7
    assert kw_to_limit(3.3, "A", voltage_v=240, phases=1) == 13.7
    assert kw_to_limit(3.3, "W", voltage_v=230, phases=3) == 3300.0
    assert kw_to_limit(0.0, "A", voltage_v=230, phases=1) == 0.0
    assert limit_to_kw(13.7, "A", voltage_v=240, phases=1) == pytest.approx(3.288)
    assert limit_to_kw(3300, "W", voltage_v=1, phases=1) == 3.3


def test_rate_unit_negotiation() -> None:
    assert parse_rate_units("Current,Power", version="1.6") == {"A", "W"}
    assert parse_rate_units("Current", version="1.6") == {"A"}
    assert parse_rate_units("A,W", version="2.0.1") == {"A", "W"}
    assert parse_rate_units("", version="1.6") == set()
    assert choose_rate_unit({"A", "W"}) == "W"
    assert choose_rate_unit({"A"}) == "A"
    assert choose_rate_unit(set()) == "A"  # unknown: A is the one every station takes
    assert choose_rate_unit({"A", "W"}, forced="A") == "A"


def test_set_profile_16_tx_default() -> None:
    payload = set_profile_request(spec(valid_to=NOW + timedelta(hours=1)), "1.6", NOW)
    assert payload == {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 7,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "validTo": "2026-07-01T13:00:00Z",
            "chargingSchedule": {
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 3300.0},
                    {"startPeriod": 900, "limit": 6600.0},
                ],
                "startSchedule": "2026-07-01T12:00:00Z",
            },
        },
    }


def test_set_profile_201_station_max_relative_becomes_absolute() -> None:
    s = spec(
        purpose="station_max",
        connector_id=0,
        kind="relative",
        rate_unit="A",
        periods=(Period(0, 16.0),),
        number_phases=1,
    )
    payload = set_profile_request(s, "2.0.1", NOW)
    profile = payload["chargingProfile"]
    assert payload["evseId"] == 0
    assert profile["chargingProfilePurpose"] == "ChargingStationMaxProfile"
    assert profile["chargingProfileKind"] == "Absolute"  # quirk: never Relative
    (schedule,) = profile["chargingSchedule"]
    assert schedule["id"] == 7 and schedule["chargingRateUnit"] == "A"
    assert schedule["startSchedule"] == "2026-07-01T12:00:00Z"
    assert schedule["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16.0, "numberPhases": 1}
    ]


def test_tx_profile_carries_transaction_and_recurring_kinds() -> None:
    p16 = set_profile_request(spec(purpose="tx", transaction_id="42", kind="relative"), "1.6", NOW)
    assert p16["csChargingProfiles"]["transactionId"] == 42
    assert p16["csChargingProfiles"]["chargingProfileKind"] == "Relative"
    assert "startSchedule" not in p16["csChargingProfiles"]["chargingSchedule"]
    p201 = set_profile_request(
        spec(purpose="tx", transaction_id="tx-a", kind="daily"), "2.0.1", NOW
    )
    prof = p201["chargingProfile"]
    assert prof["transactionId"] == "tx-a"
    assert (prof["chargingProfileKind"], prof["recurrencyKind"]) == ("Recurring", "Daily")


def test_clear_never_targets_external_constraints() -> None:
    reqs = clear_requests("2.0.1", connector_id=1)
    purposes = [r["chargingProfileCriteria"]["chargingProfilePurpose"] for r in reqs]
    assert purposes == ["ChargingStationMaxProfile", "TxDefaultProfile", "TxProfile"]
    assert all(r["chargingProfileCriteria"]["evseId"] == 1 for r in reqs)
    assert clear_requests("1.6", profile_id=5) == [{"id": 5}]
    assert clear_requests("2.0.1", profile_id=5) == [{"chargingProfileId": 5}]
    assert clear_requests("1.6", purpose="tx_default") == [
        {"chargingProfilePurpose": "TxDefaultProfile"}
    ]


def test_composite_parsing_reads_its_own_unit() -> None:
    assert composite_request("1.6", 1, 300, "W") == {
        "duration": 300,
        "connectorId": 1,
        "chargingRateUnit": "W",
    }
    assert composite_request("2.0.1", 1, 300, None) == {"duration": 300, "evseId": 1}
    r16 = {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": "2026-07-01T12:00:00Z",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 13.7, "numberPhases": 1},
                {"startPeriod": 600, "limit": 27.5},
            ],
        },
    }
    comp = parse_composite("1.6", r16, 1)
    assert comp is not None and comp.rate_unit == "A"
    assert comp.limit_at(10) == (13.7, 1)
    assert comp.limit_at(601) == (27.5, None)
    r201 = {
        "status": "Accepted",
        "schedule": {
            "evseId": 2,
            "duration": 300,
            "scheduleStart": "2026-07-01T12:00:00Z",
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3300}],
        },
    }
    comp2 = parse_composite("2.0.1", r201, 2)
    assert comp2 is not None and comp2.connector_id == 2 and comp2.limit_at(0) == (3300.0, None)
    assert parse_composite("2.0.1", {"status": "Rejected"}, 1) is None


def test_capabilities_parse_both_versions() -> None:
    action, payload = capabilities.request("1.6")
    assert action == "GetConfiguration" and "ChargeProfileMaxStackLevel" in payload["key"]
    c16 = capabilities.parse(
        "1.6",
        {
            "configurationKey": [
                {
                    "key": "ChargingScheduleAllowedChargingRateUnit",
                    "readonly": True,
                    "value": "Current",
                },
                {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "0"},
                {"key": "ChargingScheduleMaxPeriods", "readonly": True, "value": "5"},
            ]
        },
    )
    assert (c16.rate_units, c16.max_stack_level, c16.max_periods) == (frozenset("A"), 0, 5)
    c201 = capabilities.parse(
        "2.0.1",
        {
            "getVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "component": {"name": "SmartChargingCtrlr"},
                    "variable": {"name": "RateUnit"},
                    "attributeValue": "A,W",
                },
                {
                    "attributeStatus": "Accepted",
                    "component": {"name": "SmartChargingCtrlr"},
                    "variable": {"name": "Enabled"},
                    "attributeValue": "false",
                },
                {
                    "attributeStatus": "UnknownVariable",
                    "component": {"name": "SmartChargingCtrlr"},
                    "variable": {"name": "ProfileStackLevel"},
                },
            ]
        },
    )
    assert c201.rate_units == {"A", "W"} and c201.max_stack_level == 0
    assert c201.smart_charging_enabled is False
    assert capabilities.parse("1.6", {"configurationKey": []}).known is False


def cmd(**kw: object) -> contract.SetLimit:
    base: dict[str, object] = dict(
        correlation_id="c", station_id="CP", connector_id=1, limit_kw=3.3
    )
    base.update(kw)
    return contract.SetLimit(**base)  # type: ignore[arg-type]


def test_validate_refuses_past_valid_to_and_names_the_field() -> None:
    with pytest.raises(InvalidLimit, match="valid_to: is in the past"):
        plan.validate(cmd(valid_to=NOW - timedelta(seconds=1)), NOW)
    with pytest.raises(InvalidLimit, match="connector_id"):
        plan.validate(cmd(purpose="station_max"), NOW)
    with pytest.raises(InvalidLimit, match="limit_kw"):
        plan.validate(cmd(limit_kw=None), NOW)
    with pytest.raises(InvalidLimit, match="start_s"):
        plan.validate(cmd(limit_kw=None, schedule=[{"start_s": 5, "limit_kw": 1}]), NOW)
    assert plan.validate(cmd(valid_to=NOW + timedelta(minutes=5)), NOW)[0].limit_kw == 3.3


def test_schedule_merges_and_truncates_to_max_periods() -> None:
    periods = [
        contract.SchedulePeriod(start_s=i * 60, limit_kw=kw)
        for i, kw in enumerate([3.3, 3.3, 4.0, 5.0, 6.0, 6.6])
    ]
    out = plan.convert_schedule(periods, "W", voltage_v=230, phases=3, max_periods=3)
    assert [p.limit for p in out.periods] == [3300.0, 4000.0, 5000.0]
    assert out.duration_s == 240 and out.truncated_periods == 2
    full = plan.convert_schedule(periods, "A", voltage_v=230, phases=1, max_periods=24)
    assert full.duration_s is None and len(full.periods) == 5


def test_stack_level_never_exceeds_station_max() -> None:
    caps0 = capabilities.Capabilities(frozenset("A"), 0, 24)
    assert plan.stack_level(5, 1, caps0) == 0
    caps8 = capabilities.Capabilities(frozenset("A"), 8, 24)
    assert plan.stack_level(None, 1, caps8) == 1 and plan.stack_level(9, 1, caps8) == 8


def test_fallback_chain() -> None:
    assert plan.fallback_chain("station_max", 0, None) == ["station_max", "tx_default"]
    assert plan.fallback_chain("tx_default", 1, "7") == ["tx_default", "tx"]
    assert plan.fallback_chain("tx_default", 1, None) == ["tx_default"]
    assert plan.fallback_chain("tx", 1, "7") == ["tx"]
    assert plan.fallback_chain("tx", 1, None) == ["tx_default"]  # TxProfile only in a tx


def test_profile_ids_are_stable_and_distinct() -> None:
    ids = {
        profile_id_for(100_000, c, p, s)
        for c in (0, 1, 2)
        for p in ("station_max", "tx_default", "tx")
        for s in (0, 1)
    }
    assert len(ids) == 18
    assert profile_id_for(100_000, 1, "tx_default", 1) == 101_201
