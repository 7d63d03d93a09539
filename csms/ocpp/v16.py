"""OCPP 1.6J handlers: charger -> CSMS messages."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from csms import store
from csms.connection import Connection, Handler
from csms.db.models import Transaction
from csms.ocpp import common
from csms.ocpp.common import iso, station_time
from evcommon import contract


async def boot_notification(conn: Connection, p: dict[str, Any]) -> dict[str, Any]:
    return await common.boot(
        conn,
        {
            "vendor": p.get("chargePointVendor"),
            "model": p.get("chargePointModel"),
            "serial_number": p.get("chargePointSerialNumber") or p.get("chargeBoxSerialNumber"),
            "firmware_version": p.get("firmwareVersion"),
        },
    )


async def status_notification(conn: Connection, p: dict[str, Any]) -> dict[str, Any]:
    core = conn.core
    now = core.clock.now()
    ts = station_time(conn, p.get("timestamp"))
    error_code = p.get("errorCode")

    def work(s: Session) -> None:
        store.set_connector_status(
            s,
            conn.station_id,
            p["connectorId"],
            0,
            status=p["status"],
            error_code=error_code,
            info=p.get("info") or p.get("vendorErrorCode"),
            station_time=ts,
            now=now,
        )

    await core.commits.run(work)
    await core.emit(
        "connector_status",
        contract.ConnectorStatus(
            ts=now,
            station_id=conn.station_id,
            connector_id=p["connectorId"],
            status=p["status"],
            error_code=None if error_code == "NoError" else error_code,
        ),
    )
    return {}


def _id_tag_info(status: str, expiry: datetime | None) -> dict[str, Any]:
    info: dict[str, Any] = {"status": status}
    if expiry is not None:
        info["expiryDate"] = iso(expiry)
    return info


async def authorize(conn: Connection, p: dict[str, Any]) -> dict[str, Any]:
    status, expiry = await common.authorize_status(conn, p["idTag"])
    return {"idTagInfo": _id_tag_info(status, expiry)}


async def start_transaction(conn: Connection, p: dict[str, Any]) -> dict[str, Any]:
    core = conn.core
    now = core.clock.now()
    started_at = station_time(conn, p["timestamp"]) or now
    accept_all = core.settings.security.accept_all_id_tags

    def work(s: Session) -> tuple[Transaction, bool, str, datetime | None]:
        status, tag = store.id_tag_status(s, p["idTag"], now, accept_all=accept_all)
        expiry = tag.expiry if tag is not None else None
        existing = _duplicate_start(s, conn.station_id, p)
        if existing is not None:
            return existing, False, status, expiry
        tx = Transaction(
            station_id=conn.station_id,
            tx_key=f"new-{uuid.uuid4().hex}",
            connector_id=p["connectorId"],
            id_tag=p["idTag"],
            reservation_id=p.get("reservationId"),
            meter_start_wh=float(p["meterStart"]),
            started_at=started_at,
            start_ts_raw=p["timestamp"][:40],
            created_at=now,
            updated_at=now,
        )
        s.add(tx)
        s.flush()  # the database allocates the id; 1.6 transactionId = row id
        tx.tx_key = str(tx.id)
        return tx, True, status, expiry

    tx, created, status, expiry = await core.commits.run(work)
    if created:
        await core.emit("transaction", common.transaction_event(conn, tx, "started", now))
    else:
        conn.log.info("duplicate StartTransaction answered again", transaction_id=tx.id)
    return {"transactionId": tx.id, "idTagInfo": _id_tag_info(status, expiry)}


def _duplicate_start(s: Session, station_id: str, p: dict[str, Any]) -> Transaction | None:
    q = select(Transaction).where(
        Transaction.station_id == station_id,
        Transaction.connector_id == p["connectorId"],
        Transaction.id_tag == p["idTag"],
        Transaction.start_ts_raw == p["timestamp"][:40],
        Transaction.meter_start_wh == float(p["meterStart"]),
    )
    return (s.execute(q)).scalars().first()


async def stop_transaction(conn: Connection, p: dict[str, Any]) -> dict[str, Any]:
    core = conn.core
    now = core.clock.now()
    ended_at = station_time(conn, p["timestamp"]) or now
    tx_id = p["transactionId"]
    groups = common.sample_groups(conn, p.get("transactionData") or [])
    accept_all = core.settings.security.accept_all_id_tags

    def work(s: Session) -> tuple[Transaction, bool, str | None]:
        status = None
        if p.get("idTag"):
            status, _ = store.id_tag_status(s, p["idTag"], now, accept_all=accept_all)
        tx = store.find_transaction(s, conn.station_id, str(tx_id), f"u{tx_id}")
        if tx is not None and tx.ended_at is not None:
            return tx, False, status  # a resent Stop: answered, stored once
        if tx is None:
            # never seen start (e.g. lost while offline): store it anyway, keyed apart from
            # the ids this CSMS allocates
            tx = Transaction(
                station_id=conn.station_id, tx_key=f"u{tx_id}", unknown_start=True, created_at=now
            )
            s.add(tx)
        tx.meter_stop_wh = float(p["meterStop"])
        tx.ended_at = ended_at
        tx.stop_reason = p.get("reason") or "Local"
        tx.stop_data = {"idTag": p.get("idTag"), "transactionData": p.get("transactionData")}
        tx.updated_at = now
        store.store_samples(
            s,
            conn.station_id,
            tx.connector_id or 0,
            tx.tx_key,
            groups,
            source="StopTransaction",
            now=now,
        )
        return tx, True, status

    tx, changed, status = await core.commits.run(work)
    if changed:
        await core.emit("transaction", common.transaction_event(conn, tx, "ended", now))
    else:
        conn.log.info("duplicate StopTransaction answered again", transaction_id=tx_id)
    return {"idTagInfo": {"status": status}} if status else {}


async def meter_values(conn: Connection, p: dict[str, Any]) -> dict[str, Any]:
    tx_key = str(p["transactionId"]) if p.get("transactionId") is not None else None
    await common.store_meter_values(
        conn, p["connectorId"], tx_key, p["meterValue"], flag_after_stop=True
    )
    return {}


HANDLERS: dict[str, Handler] = {
    "BootNotification": boot_notification,
    "Heartbeat": common.heartbeat,
    "StatusNotification": status_notification,
    "Authorize": authorize,
    "StartTransaction": start_transaction,
    "StopTransaction": stop_transaction,
    "MeterValues": meter_values,
    "DataTransfer": common.data_transfer,
    "DiagnosticsStatusNotification": common.recorder(
        "DiagnosticsStatusNotification", station_field=("status", "diagnostics_status")
    ),
    "FirmwareStatusNotification": common.recorder(
        "FirmwareStatusNotification", station_field=("status", "firmware_status")
    ),
}
