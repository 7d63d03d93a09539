"""OCPP 2.0.1 messages from a station, persisted on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from csms.app import CsmsApp
from csms.db.models import (
    Connector,
    DeviceVariable,
    EvChargingNeeds,
    MeterValue,
    StationEvent,
    Transaction,
)
from tests.csms.client import booted
from tests.csms.sink import RecordingSink
from tests.plugins.csms import MakeCsms


def _tx_event(
    kind: str, seq: int, *, energy_wh: float | None = None, **extra: Any
) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "eventType": kind,
        "timestamp": f"2026-07-01T10:0{seq}:00Z",
        "triggerReason": {
            "Started": "Authorized",
            "Updated": "MeterValuePeriodic",
            "Ended": "EVCommunicationLost",
        }[kind],
        "seqNo": seq,
        "transactionInfo": {"transactionId": "tx-abc", **extra.pop("info", {})},
        "evse": {"id": 1, "connectorId": 1},
        **extra,
    }
    if energy_wh is not None:
        ev["meterValue"] = [
            {
                "timestamp": ev["timestamp"],
                "sampledValue": [
                    {
                        "value": energy_wh,
                        "measurand": "Energy.Active.Import.Register",
                        "unitOfMeasure": {"unit": "Wh"},
                    },
                    {
                        "value": 11.0,
                        "measurand": "Power.Active.Import",
                        "unitOfMeasure": {"unit": "kW"},
                    },
                ],
            }
        ]
    return ev


async def energy_register_values(s: Any) -> list[float]:
    rows = await s.execute(
        select(MeterValue.value_si).where(MeterValue.measurand == "Energy.Active.Import.Register")
    )
    return list(rows.scalars().all())


async def test_transaction_lifecycle(make_csms: MakeCsms, database_url: str) -> None:
    app = await make_csms(database_url, security={"accept_all_id_tags": True})
    sink = RecordingSink()
    app.core.sinks.append(sink)
    st = await booted(app.url, "CS-201", "2.0.1")
    status = {
        "timestamp": "2026-07-01T09:59:00Z",
        "connectorStatus": "Occupied",
        "evseId": 1,
        "connectorId": 1,
    }
    assert await st.call("StatusNotification", status) == {}
    started = _tx_event(
        "Started", 1, energy_wh=1000, idToken={"idToken": "TAG", "type": "ISO14443"}
    )
    r = await st.call("TransactionEvent", started)
    assert r["idTokenInfo"]["status"] == "Accepted"
    assert (
        await st.call(
            "TransactionEvent",
            _tx_event("Updated", 2, energy_wh=3000, info={"chargingState": "Charging"}),
        )
        == {}
    )
    ended = _tx_event(
        "Ended", 3, energy_wh=6000, offline=True, info={"stoppedReason": "EVDisconnected"}
    )
    assert await st.call("TransactionEvent", ended) == {}
    assert await st.call("TransactionEvent", ended) == {}  # resent: stored once
    await st.close()

    async with app.database.session() as s:
        tx = (await s.execute(select(Transaction))).scalar_one()
        values = await energy_register_values(s)
        conn = await s.get(Connector, ("CS-201", 1, 1))
    assert tx.tx_key == "tx-abc" and tx.meter_start_wh == 1000 and tx.meter_stop_wh == 6000
    assert tx.stop_reason == "EVDisconnected" and tx.offline and tx.seen_seq_nos == [1, 2, 3]
    assert tx.charging_state == "Charging" and tx.id_tag == "TAG" and tx.connector_id == 1
    assert sorted(values) == [1000.0, 3000.0, 6000.0]
    assert conn is not None and conn.status == "Occupied"
    assert [t.event for t in sink.of("transaction")] == ["started", "updated", "ended"]
    assert sink.of("transaction")[-1].energy_kwh == 5.0
    assert [m.power_kw for m in sink.of("meter_values")] == [11.0, 11.0, 11.0]


async def test_second_ended_under_a_new_seq_no_is_not_republished(
    make_csms: MakeCsms, database_url: str
) -> None:
    app = await make_csms(database_url, security={"accept_all_id_tags": True})
    sink = RecordingSink()
    app.core.sinks.append(sink)
    st = await booted(app.url, "CS-201", "2.0.1")
    started = _tx_event("Started", 1, energy_wh=1000, idToken={"idToken": "T", "type": "Local"})
    await st.call("TransactionEvent", started)
    end = {"stoppedReason": "EVDisconnected"}
    await st.call("TransactionEvent", _tx_event("Ended", 2, energy_wh=6000, info=end))
    assert await st.call("TransactionEvent", _tx_event("Ended", 3, energy_wh=6000, info=end)) == {}
    await st.close()
    async with app.database.session() as s:
        tx = (await s.execute(select(Transaction))).scalar_one()
        energy = await energy_register_values(s)
    assert tx.seen_seq_nos == [1, 2, 3] and tx.meter_stop_wh == 6000
    assert sorted(energy) == [1000.0, 6000.0]
    assert [t.event for t in sink.of("transaction")] == ["started", "ended"]
    assert len(sink.of("meter_values")) == 2


async def test_begin_sample_repeated_in_ended_is_stored_once(
    make_csms: MakeCsms, database_url: str
) -> None:
    app = await make_csms(database_url, security={"accept_all_id_tags": True})
    sink = RecordingSink()
    app.core.sinks.append(sink)
    st = await booted(app.url, "CS-201", "2.0.1")
    started = _tx_event("Started", 1, energy_wh=1000, idToken={"idToken": "T", "type": "Local"})
    begin = started["meterValue"][0]
    for sv in begin["sampledValue"]:
        sv["context"] = "Transaction.Begin"
    await st.call("TransactionEvent", started)
    ended = _tx_event("Ended", 2, energy_wh=6000, info={"stoppedReason": "EVDisconnected"})
    for sv in ended["meterValue"][0]["sampledValue"]:
        sv["context"] = "Transaction.End"
    # the station repeats the Begin sample in Ended (as several firmwares do); a sample at
    # the same time with another value is not a repeat and is kept
    other = {**begin, "sampledValue": [{**begin["sampledValue"][1], "value": 7.0}]}
    ended["meterValue"] = [begin, other, *ended["meterValue"]]
    await st.call("TransactionEvent", ended)
    await st.close()
    async with app.database.session() as s:
        energy = await energy_register_values(s)
        power = (
            await s.execute(
                select(MeterValue.value_si).where(MeterValue.measurand == "Power.Active.Import")
            )
        ).scalars()
        power_w = sorted(power.all())
    assert sorted(energy) == [1000.0, 6000.0]
    assert power_w == [7000.0, 11000.0, 11000.0]  # Begin once, the 7 kW one, End
    assert [m.power_kw for m in sink.of("meter_values")] == [11.0, 7.0, 11.0]


async def test_ended_for_unknown_transaction_is_stored(csms_app: CsmsApp) -> None:
    st = await booted(csms_app.url, "CS-unk", "2.0.1")
    ended = _tx_event("Ended", 7, energy_wh=500, info={"stoppedReason": "Local"})
    assert await st.call("TransactionEvent", ended) == {}
    await st.close()
    async with csms_app.database.session() as s:
        tx = (await s.execute(select(Transaction))).scalar_one()
    assert tx.unknown_start and tx.ended_at is not None and tx.meter_stop_wh == 500


async def test_ev_needs_report_and_events(make_csms: MakeCsms, database_url: str) -> None:
    app = await make_csms(database_url)
    sink = RecordingSink()
    app.core.sinks.append(sink)
    st = await booted(app.url, "CS-needs", "2.0.1")
    needs = {
        "evseId": 1,
        "chargingNeeds": {
            "requestedEnergyTransfer": "DC",
            "departureTime": "2026-07-01T17:30:00Z",
            "dcChargingParameters": {
                "evMaxCurrent": 200,
                "evMaxVoltage": 800,
                "energyAmount": 42000,
                "evMaxPower": 150000,
            },
        },
    }
    assert await st.call("NotifyEVChargingNeeds", needs) == {"status": "Accepted"}
    report = {
        "requestId": 1,
        "generatedAt": "2026-07-01T10:00:00Z",
        "seqNo": 0,
        "reportData": [
            {
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Power"},
                "variableAttribute": [
                    {"type": "Actual", "value": "22000"},
                    {"type": "MaxSet", "value": "11000"},
                ],
            }
        ],
    }
    assert await st.call("NotifyReport", report) == {}
    event = {
        "generatedAt": "2026-07-01T10:00:00Z",
        "seqNo": 0,
        "eventData": [
            {
                "eventId": 1,
                "timestamp": "2026-07-01T10:00:00Z",
                "trigger": "Alerting",
                "actualValue": "1",
                "eventNotificationType": "HardWiredNotification",
                "component": {"name": "X"},
                "variable": {"name": "Y"},
            }
        ],
    }
    assert await st.call("NotifyEvent", event) == {}
    assert (
        await st.call(
            "SecurityEventNotification",
            {"type": "StartupOfTheDevice", "timestamp": "2026-07-01T10:00:00Z"},
        )
        == {}
    )
    assert await st.call("LogStatusNotification", {"status": "Uploaded", "requestId": 3}) == {}
    assert await st.call("FirmwareStatusNotification", {"status": "Installed"}) == {}
    mv = {
        "evseId": 1,
        "meterValue": [{"timestamp": "2026-07-01T10:00:00Z", "sampledValue": [{"value": 4.2}]}],
    }
    assert await st.call("MeterValues", mv) == {}
    await st.close()

    async with app.database.session() as s:
        row = (await s.execute(select(EvChargingNeeds))).scalar_one()
        dv = (
            (await s.execute(select(DeviceVariable).order_by(DeviceVariable.attribute_type)))
            .scalars()
            .all()
        )
        actions = (
            (await s.execute(select(StationEvent.action).order_by(StationEvent.id))).scalars().all()
        )
    assert row.energy_amount_wh == 42000 and row.ev_max_power_w == 150000
    assert row.departure_time is not None and row.departure_time.hour == 17
    assert [(d.component, d.variable, d.attribute_type, d.value) for d in dv] == [
        ("EVSE@1", "Power", "Actual", "22000"),
        ("EVSE@1", "Power", "MaxSet", "11000"),
    ]
    assert actions == [
        "NotifyEvent",
        "SecurityEventNotification",
        "LogStatusNotification",
        "FirmwareStatusNotification",
    ]
    (ev,) = sink.of("ev_needs")
    assert (
        ev.energy_amount_kwh == 42.0
        and ev.ev_max_power_kw == 150.0
        and ev.energy_transfer_mode == "DC"
    )
    assert sink.of("meter_values")[0].energy_kwh == pytest.approx(0.0042)
