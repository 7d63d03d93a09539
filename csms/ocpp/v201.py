"""OCPP 2.0.1 handlers: charging station -> CSMS messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from csms import normalise, store
from csms.connection import Connection, Handler
from csms.db.models import DeviceVariable, EvChargingNeeds, Transaction
from csms.ocpp import common
from csms.ocpp.common import iso, station_time
from evcommon import contract

Groups = list[tuple[datetime | None, list[normalise.Sample]]]

# 1.6 authorization names -> 2.0.1 AuthorizationStatusEnum
_AUTH = {"Accepted": "Accepted", "Blocked": "Blocked", "Expired": "Expired", "Invalid": "Unknown"}


async def boot_notification(conn: Connection, p: dict[str, Any]) -> dict[str, Any]:
    cs = p["chargingStation"]
    return await common.boot(
        conn,
        {
            "vendor": cs.get("vendorName"),
            "model": cs.get("model"),
            "serial_number": cs.get("serialNumber"),
            "firmware_version": cs.get("firmwareVersion"),
        },
    )


async def status_notification(conn: Connection, p: dict[str, Any]) -> dict[str, Any]:
    core = conn.core
    now = core.clock.now()
    ts = station_time(conn, p["timestamp"])

    def work(s: Session) -> None:
        store.set_connector_status(
            s,
            conn.station_id,
            p["evseId"],
            p["connectorId"],
            status=p["connectorStatus"],
            error_code=None,
            info=None,
            station_time=ts,
            now=now,
        )

    await core.commits.run(work)
    await core.emit(
        "connector_status",
        contract.ConnectorStatus(
            ts=now,
            station_id=conn.station_id,
            connector_id=p["evseId"],
            status=p["connectorStatus"],
        ),
    )
    return {}


def _token_info(status: str, expiry: datetime | None) -> dict[str, Any]:
    info: dict[str, Any] = {"status": _AUTH.get(status, "Unknown")}
    if expiry is not None:
        info["cacheExpiryDateTime"] = iso(expiry)
    return info


async def authorize(conn: Connection, p: dict[str, Any]) -> dict[str, Any]:
    status, expiry = await common.authorize_status(conn, p["idToken"]["idToken"])
    return {"idTokenInfo": _token_info(status, expiry)}


def _energy_wh(groups: list[tuple[datetime | None, list[normalise.Sample]]]) -> float | None:
    for _, items in reversed(groups):
        for x in items:
            if x.measurand == normalise.ENERGY_REGISTER and not x.phase and x.value_si is not None:
                return x.value_si
    return None


async def transaction_event(conn: Connection, p: dict[str, Any]) -> dict[str, Any]:
    core = conn.core
    now = core.clock.now()
    info = p["transactionInfo"]
    tx_key = info["transactionId"]
    kind = p["eventType"]  # Started / Updated / Ended
    seq_no = p["seqNo"]
    ts = station_time(conn, p["timestamp"]) or now
    groups = common.sample_groups(conn, p.get("meterValue") or [])
    id_token = (p.get("idToken") or {}).get("idToken")
    accept_all = core.settings.security.accept_all_id_tags

    # the groups stored (None: nothing changed), then the id token's status and expiry
    def work(s: Session) -> tuple[Transaction, Groups | None, str | None, datetime | None]:
        status, expiry = None, None
        if id_token:
            status, tag = store.id_tag_status(s, id_token, now, accept_all=accept_all)
            expiry = tag.expiry if tag is not None else None
        tx = store.find_transaction(s, conn.station_id, tx_key)
        if tx is None:
            tx = Transaction(
                station_id=conn.station_id,
                tx_key=tx_key,
                created_at=now,
                seen_seq_nos=[],
                unknown_start=kind != "Started",
            )
            s.add(tx)
        seen = list(tx.seen_seq_nos or [])
        if seq_no in seen:
            return tx, None, status, expiry  # a resent event: answered, stored once
        tx.seen_seq_nos = [*seen, seq_no]
        if kind == "Ended" and tx.ended_at is not None:
            # a second Ended under a new seqNo (some firmware repeats it): the seqNo is
            # recorded, but the end is not laid over again, its samples (a copy of the first
            # Ended's) are not stored twice, and nothing is re-published
            return tx, None, status, expiry
        _apply(tx, p, ts, _energy_wh(groups), now)
        fresh = groups
        if kind == "Ended":
            # many stations repeat the Transaction.Begin sample (or the last Updated one)
            # in Ended: stored and published once
            fresh = store.unseen_samples(s, conn.station_id, tx.connector_id or 0, tx_key, groups)
        connector = tx.connector_id or 0
        store.store_samples(
            s, conn.station_id, connector, tx_key, fresh, source="TransactionEvent", now=now
        )
        return tx, fresh, status, expiry

    tx, stored, status, expiry = await core.commits.run(work)
    if stored is not None:
        await core.emit("transaction", common.transaction_event(conn, tx, kind.lower(), now))
        for sampled_at, items in stored if core.sinks else ():
            ev = normalise.to_event(
                conn.station_id, tx.connector_id or 0, tx_key, sampled_at, items, now
            )
            if ev is not None:
                await core.emit("meter_values", ev)
    return {"idTokenInfo": _token_info(status, expiry)} if status else {}


def _apply(
    tx: Transaction, p: dict[str, Any], ts: datetime, energy_wh: float | None, now: datetime
) -> None:
    """Lay one TransactionEvent (not seen before) over the stored transaction."""
    info, kind, seq_no = p["transactionInfo"], p["eventType"], p["seqNo"]
    evse_id = (p.get("evse") or {}).get("id")
    tx.last_seq_no = max(seq_no, tx.last_seq_no or seq_no)
    tx.offline = tx.offline or bool(p.get("offline"))
    tx.charging_state = info.get("chargingState") or tx.charging_state
    tx.connector_id = evse_id if evse_id is not None else tx.connector_id
    tx.id_tag = (p.get("idToken") or {}).get("idToken") or tx.id_tag
    tx.updated_at = now
    if kind == "Started":
        tx.started_at, tx.start_ts_raw = ts, p["timestamp"][:40]
        if energy_wh is not None:
            tx.meter_start_wh = energy_wh
    if kind == "Ended":
        tx.ended_at = ts
        tx.stop_reason = info.get("stoppedReason") or "Local"
        tx.meter_stop_wh = energy_wh if energy_wh is not None else tx.meter_stop_wh
        tx.stop_data = {"triggerReason": p.get("triggerReason")}


async def meter_values(conn: Connection, p: dict[str, Any]) -> dict[str, Any]:
    await common.store_meter_values(conn, p["evseId"], None, p["meterValue"])
    return {}


async def notify_report(conn: Connection, p: dict[str, Any]) -> dict[str, Any]:
    now = conn.core.clock.now()

    def work(s: Session) -> None:
        for item in p.get("reportData") or []:
            component = component_key(item["component"])
            variable = variable_key(item["variable"])
            for attr in item.get("variableAttribute") or []:
                key = (conn.station_id, component, variable, attr.get("type", "Actual"))
                row = s.get(DeviceVariable, key)
                if row is None:
                    row = DeviceVariable(
                        station_id=key[0], component=key[1], variable=key[2], attribute_type=key[3]
                    )
                    s.add(row)
                row.value, row.updated_at = attr.get("value"), now

    await conn.core.commits.run(work)
    return {}


def component_key(c: dict[str, Any]) -> str:
    key = c["name"] + (f"[{c['instance']}]" if c.get("instance") else "")
    evse = c.get("evse")
    if evse:
        key += f"@{evse['id']}" + (f"/{evse['connectorId']}" if "connectorId" in evse else "")
    return key


def variable_key(v: dict[str, Any]) -> str:
    return v["name"] + (f"[{v['instance']}]" if v.get("instance") else "")


async def notify_ev_charging_needs(conn: Connection, p: dict[str, Any]) -> dict[str, Any]:
    core = conn.core
    now = core.clock.now()
    needs = p["chargingNeeds"]
    params = needs.get("acChargingParameters") or needs.get("dcChargingParameters") or {}
    departure = station_time(conn, needs.get("departureTime"))
    energy_wh = params.get("energyAmount")
    max_power_w = params.get("evMaxPower")
    min_current = params.get("evMinCurrent")
    max_current = params.get("evMaxCurrent")

    def work(s: Session) -> None:
        s.add(
            EvChargingNeeds(
                station_id=conn.station_id,
                evse_id=p["evseId"],
                departure_time=departure,
                energy_amount_wh=energy_wh,
                ev_max_power_w=max_power_w,
                ev_min_power_w=params.get("evMinPower"),
                ev_max_current_a=max_current,
                ev_min_current_a=min_current,
                energy_transfer_mode=needs.get("requestedEnergyTransfer"),
                max_schedule_tuples=p.get("maxScheduleTuples"),
                raw=p,
                received_at=now,
            )
        )

    await core.commits.run(work)
    await core.emit(
        "ev_needs",
        contract.EVChargingNeeds(
            ts=now,
            station_id=conn.station_id,
            connector_id=p["evseId"],
            departure_time=departure,
            energy_amount_kwh=None if energy_wh is None else energy_wh / 1e3,
            ev_max_power_kw=None if max_power_w is None else max_power_w / 1e3,
            ev_min_power_kw=None
            if params.get("evMinPower") is None
            else params["evMinPower"] / 1e3,
            ev_max_current_a=max_current,
            ev_min_current_a=min_current,
            energy_transfer_mode=needs.get("requestedEnergyTransfer"),
        ),
    )
    return {"status": "Accepted"}


HANDLERS: dict[str, Handler] = {
    "BootNotification": boot_notification,
    "Heartbeat": common.heartbeat,
    "StatusNotification": status_notification,
    "Authorize": authorize,
    "TransactionEvent": transaction_event,
    "MeterValues": meter_values,
    "NotifyReport": notify_report,
    "NotifyEvent": common.recorder("NotifyEvent", "generatedAt"),
    "SecurityEventNotification": common.recorder("SecurityEventNotification", "timestamp"),
    "NotifyEVChargingNeeds": notify_ev_charging_needs,
    "FirmwareStatusNotification": common.recorder(
        "FirmwareStatusNotification", station_field=("status", "firmware_status")
    ),
    "LogStatusNotification": common.recorder("LogStatusNotification"),
    "DataTransfer": common.data_transfer,
}
