"""OCPP 1.6J messages from a station, persisted on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from csms.app import CsmsApp
from csms.db.models import Connector, MeterValue, Station, StationEvent, Transaction
from evcommon.clock import ManualClock
from tests.csms.client import booted
from tests.csms.sink import RecordingSink
from tests.plugins.csms import MakeCsms

TS = "2026-07-01T10:00:00Z"


async def _count(app: CsmsApp, model: Any, *where: Any) -> int:
    async with app.database.session() as s:
        return int(
            (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


async def test_full_session_is_stored_once(make_csms: MakeCsms, database_url: str) -> None:
    app = await make_csms(database_url, security={"accept_all_id_tags": True})
    sink = RecordingSink()
    app.core.sinks.append(sink)
    st = await booted(app.url, "CP-16")
    assert (
        await st.call(
            "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"}
        )
        == {}
    )
    start = {"connectorId": 1, "idTag": "TAG1", "meterStart": 1500, "timestamp": TS}
    r1 = await st.call("StartTransaction", start)
    r2 = await st.call("StartTransaction", start)  # resent after a lost answer
    tx_id = r1["transactionId"]
    assert r1 == r2 and r1["idTagInfo"]["status"] == "Accepted"
    mv = {
        "connectorId": 1,
        "transactionId": tx_id,
        "meterValue": [
            {
                "timestamp": "2026-07-01T10:05:00Z",
                "sampledValue": [
                    {"value": "2.5", "unit": "kWh", "context": "Sample.Periodic"},
                    {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
                    {"value": "230.1", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
                ],
            }
        ],
    }
    assert await st.call("MeterValues", mv) == {}
    stop = {
        "transactionId": tx_id,
        "meterStop": 9500,
        "timestamp": "2026-07-01T11:00:00Z",
        "reason": "EVDisconnected",
        "transactionData": [
            {"timestamp": "2026-07-01T11:00:00Z", "sampledValue": [{"value": "9500"}]}
        ],
    }
    assert await st.call("StopTransaction", stop) == {}
    assert await st.call("StopTransaction", stop) == {}  # duplicate: answered, stored once
    await st.close()

    assert await _count(app, Transaction) == 1
    async with app.database.session() as s:
        tx = (await s.execute(select(Transaction))).scalar_one()
        rows = (await s.execute(select(MeterValue).order_by(MeterValue.id))).scalars().all()
        conn = await s.get(Connector, ("CP-16", 1, 0))
        station = await s.get(Station, "CP-16")
    assert tx.tx_key == str(tx_id) and tx.meter_start_wh == 1500 and tx.meter_stop_wh == 9500
    assert tx.stop_reason == "EVDisconnected" and tx.stop_data["transactionData"]
    assert tx.started_at is not None and tx.started_at.isoformat() == "2026-07-01T10:00:00+00:00"
    assert [(r.measurand, r.value_si, r.source) for r in rows] == [
        ("Energy.Active.Import.Register", 2500.0, "MeterValues"),
        ("Power.Active.Import", 7400.0, "MeterValues"),
        ("Voltage", 230.1, "MeterValues"),
        ("Energy.Active.Import.Register", 9500.0, "StopTransaction"),
    ]
    assert rows[2].phase == "L1-N" and rows[0].unit == "kWh" and rows[0].value == "2.5"
    assert conn is not None and conn.status == "Preparing"
    assert station is not None and station.vendor == "Evsite" and station.boot_status == "Accepted"

    txs = sink.of("transaction")
    assert [t.event for t in txs] == ["started", "ended"]
    assert txs[1].energy_kwh == 8.0
    (meter,) = sink.of("meter_values")
    assert meter.power_kw == 7.4 and meter.energy_kwh == 2.5 and meter.transaction_id == str(tx_id)
    assert sink.of("connector_status")[0].status == "Preparing"


async def test_unknown_and_late_transactions_are_stored(csms_app: CsmsApp) -> None:
    st = await booted(csms_app.url, "CP-late")
    stop = {"transactionId": 4242, "meterStop": 100, "timestamp": "1970-01-01T00:02:00Z"}
    assert await st.call("StopTransaction", stop) == {}
    assert await st.call("StopTransaction", stop) == {}
    # queued offline for two days: old timestamps are processed normally
    start = {"connectorId": 2, "idTag": "X", "meterStart": 0, "timestamp": "2026-06-01T00:00:00Z"}
    r = await st.call("StartTransaction", start)
    assert r["idTagInfo"]["status"] == "Invalid"  # not in the local list, still recorded
    await st.close()
    async with csms_app.database.session() as s:
        rows = (await s.execute(select(Transaction).order_by(Transaction.id))).scalars().all()
    assert [(t.tx_key, t.unknown_start) for t in rows] == [
        ("u4242", True),
        (str(r["transactionId"]), False),
    ]
    assert rows[0].ended_at is not None and rows[0].ended_at.year > 2000  # 1970 not trusted
    assert rows[1].started_at is not None and rows[1].started_at.month == 6


async def test_authorize_uses_the_local_list(csms_app: CsmsApp) -> None:
    from datetime import UTC, datetime

    from csms.db.models import IdTag

    async with csms_app.database.session() as s:
        now = datetime.now(UTC)
        s.add_all(
            [
                IdTag(id_tag="OK", status="Accepted", created_at=now),
                IdTag(id_tag="BLK", status="Blocked", created_at=now),
                IdTag(
                    id_tag="OLD",
                    status="Accepted",
                    expiry=datetime(2020, 1, 1, tzinfo=UTC),
                    created_at=now,
                ),
            ]
        )
        await s.commit()
    st = await booted(csms_app.url, "CP-auth")
    got = [
        (await st.call("Authorize", {"idTag": t}))["idTagInfo"]["status"]
        for t in ("OK", "BLK", "OLD", "NOPE")
    ]
    assert got == ["Accepted", "Blocked", "Expired", "Invalid"]
    await st.close()


async def test_other_station_messages(csms_app: CsmsApp) -> None:
    st = await booted(csms_app.url, "CP-misc")
    assert "currentTime" in await st.call("Heartbeat", {})
    dt = await st.call("DataTransfer", {"vendorId": "com.acme", "messageId": "x", "data": "y"})
    assert dt == {"status": "UnknownVendorId"}
    assert await st.call("FirmwareStatusNotification", {"status": "Installed"}) == {}
    assert await st.call("DiagnosticsStatusNotification", {"status": "Uploaded"}) == {}
    await st.close()
    async with csms_app.database.session() as s:
        station = await s.get(Station, "CP-misc")
        actions = (
            (await s.execute(select(StationEvent.action).order_by(StationEvent.id))).scalars().all()
        )
    assert station is not None and station.firmware_status == "Installed"
    assert station.diagnostics_status == "Uploaded"
    assert actions == [
        "DataTransfer",
        "FirmwareStatusNotification",
        "DiagnosticsStatusNotification",
    ]


async def test_data_transfer_with_a_registered_vendor(csms_app: CsmsApp) -> None:
    seen: list[tuple[str, str | None, object]] = []

    async def acme(station_id: str, message_id: str | None, data: object) -> tuple[str, str]:
        seen.append((station_id, message_id, data))
        return "Accepted", "pong"

    csms_app.core.data_transfer_handlers["com.acme"] = acme
    st = await booted(csms_app.url, "CP-dt")
    reply = await st.call(
        "DataTransfer", {"vendorId": "com.acme", "messageId": "ping", "data": "x"}
    )
    assert reply == {"status": "Accepted", "data": "pong"}
    assert seen == [("CP-dt", "ping", "x")]
    await st.close()


async def test_sqlite_full_synchronous_mode(make_csms: MakeCsms) -> None:
    app = await make_csms(database={"sqlite_synchronous": "full"})
    st = await booted(app.url, "CP-full")
    mv = {"connectorId": 1, "meterValue": [{"timestamp": TS, "sampledValue": [{"value": "5"}]}]}
    for _ in range(3):
        assert await st.call("MeterValues", mv) == {}
    await st.close()
    assert await _count(app, MeterValue) == 3


async def test_last_seen_at_follows_traffic_at_most_once_a_minute(make_csms: MakeCsms) -> None:
    clock = ManualClock(datetime(2026, 7, 1, 10, tzinfo=UTC))
    app = await make_csms(clock=clock)
    st = await booted(app.url, "CP-seen")
    booted_at = clock.now()
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}

    async def last_seen() -> datetime | None:
        # the touch is queued before the handler's own unit: once answered, it is committed
        assert await st.call("StatusNotification", status) == {}
        async with app.database.session() as s:
            row = await s.get(Station, "CP-seen", populate_existing=True)
            assert row is not None
            return row.last_seen_at

    assert await last_seen() == booted_at
    clock.set(booted_at + timedelta(seconds=30))  # within the minute: not written again
    assert await last_seen() == booted_at
    clock.set(booted_at + timedelta(seconds=61))
    assert await last_seen() == booted_at + timedelta(seconds=61)
    await st.close()


async def test_meter_values_after_stop_are_stored_flagged_and_counted(
    make_csms: MakeCsms, database_url: str
) -> None:
    app = await make_csms(database_url, security={"accept_all_id_tags": True})
    st = await booted(app.url, "CP-after")
    start = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": TS}
    tx_id = (await st.call("StartTransaction", start))["transactionId"]

    def mv(wh: int) -> dict[str, Any]:
        sample = {"timestamp": TS, "sampledValue": [{"value": str(wh)}]}
        return {"connectorId": 1, "transactionId": tx_id, "meterValue": [sample]}

    assert await st.call("MeterValues", mv(1000)) == {}
    stop = {"transactionId": tx_id, "meterStop": 2000, "timestamp": TS}
    assert await st.call("StopTransaction", stop) == {}
    assert await st.call("MeterValues", mv(2100)) == {}  # the station keeps metering
    await st.close()
    async with app.database.session() as s:
        rows = (await s.execute(select(MeterValue).order_by(MeterValue.id))).scalars().all()
    assert [(r.value_si, r.tx_key, r.after_stop) for r in rows] == [
        (1000.0, str(tx_id), False),
        (2100.0, str(tx_id), True),
    ]
    (metric,) = app.core.metrics.meter_values_after_stop.collect()
    assert {x.name: x.value for x in metric.samples}["csms_meter_values_after_stop_total"] == 1
