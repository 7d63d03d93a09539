"""Handler pieces shared by both OCPP versions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from csms import normalise, store
from csms.connection import Connection, Handler
from csms.db.models import Transaction
from csms.normalise import parse_station_time
from evcommon import contract

RETRY_INTERVAL_S = 60  # interval answered with Pending/Rejected: when to try booting again


class Reply(dict[str, Any]):
    """A CALLRESULT payload with an optional hook run once it has been sent."""

    after_send: Callable[[], None] | None = None


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def station_time(conn: Connection, text: str | None) -> datetime | None:
    """The station's timestamp if sane; its clock is never used to schedule anything."""
    now = conn.core.clock.now()
    ts = parse_station_time(text, now)
    if text and ts is None and not conn.bad_clock_logged:
        conn.bad_clock_logged = True
        conn.log.warning("station clock not sane; using receive time", station_time=text)
    return ts


async def boot(conn: Connection, info: dict[str, str | None]) -> Reply:
    core = conn.core
    now = core.clock.now()
    default = core.settings.server.unknown_station_boot_status

    def work(s: Session) -> str:
        return store.record_boot(
            s, conn.station_id, now, version=conn.ocpp_version, info=info, default_status=default
        )

    status = await core.commits.run(work)
    conn.ready = status == "Accepted"
    interval = core.settings.server.heartbeat_interval_s if conn.ready else RETRY_INTERVAL_S
    conn.log.info("boot", status=status, **{k: v for k, v in info.items() if v})
    await core.emit(
        "station_state",
        contract.StationState(
            ts=now,
            station_id=conn.station_id,
            online=True,
            ocpp_version=conn.ocpp_version,
            vendor=info.get("vendor"),
            model=info.get("model"),
            firmware_version=info.get("firmware_version"),
            boot_status=status,
        ),
    )
    reply = Reply(status=status, currentTime=iso(now), interval=interval)
    if conn.ready:
        reply.after_send = lambda: core.station_booted(conn)
    return reply


async def heartbeat(conn: Connection, payload: dict[str, Any]) -> dict[str, Any]:
    return {"currentTime": iso(conn.core.clock.now())}


async def authorize_status(conn: Connection, id_tag: str) -> tuple[str, datetime | None]:
    core = conn.core
    now = core.clock.now()
    accept_all = core.settings.security.accept_all_id_tags

    def work(s: Session) -> tuple[str, datetime | None]:
        status, tag = store.id_tag_status(s, id_tag, now, accept_all=accept_all)
        return status, tag.expiry if tag is not None else None

    return await core.commits.run(work)


def recorder(
    action: str,
    time_field: str | None = None,
    answer: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    station_field: tuple[str, str] | None = None,
) -> Handler:
    """A handler that stores the message as received (and optionally a status field on
    the station row, ``(payload key, Station attribute)``) and answers ``answer(payload)``."""

    async def handle(conn: Connection, payload: dict[str, Any]) -> dict[str, Any]:
        now = conn.core.clock.now()
        ts = station_time(conn, payload.get(time_field)) if time_field else None

        def work(s: Session) -> None:
            store.store_event(s, conn.station_id, action, payload, station_time=ts, now=now)
            if station_field is not None:
                row = store.station_row(s, conn.station_id, now)
                setattr(row, station_field[1], payload.get(station_field[0]))

        await conn.core.commits.run(work)
        return answer(payload) if answer else {}

    return handle


async def data_transfer(conn: Connection, payload: dict[str, Any]) -> dict[str, Any]:
    vendor = payload.get("vendorId", "")
    custom = conn.core.data_transfer_handlers.get(vendor)
    await recorder("DataTransfer")(conn, payload)
    if custom is None:
        return {"status": "UnknownVendorId"}
    status, data = await custom(conn.station_id, payload.get("messageId"), payload.get("data"))
    return {"status": status} if data is None else {"status": status, "data": data}


def transaction_event(
    conn: Connection, tx: Transaction, event: str, now: datetime
) -> contract.TransactionEvent:
    """The normalised event for a stored transaction (both versions)."""
    energy_kwh = None
    if tx.meter_start_wh is not None and tx.meter_stop_wh is not None:
        energy_kwh = (tx.meter_stop_wh - tx.meter_start_wh) / 1e3
    return contract.TransactionEvent(
        ts=now,
        station_id=conn.station_id,
        connector_id=tx.connector_id or 0,
        transaction_id=tx.tx_key,
        event=event,  # type: ignore[arg-type]
        id_token=tx.id_tag,
        meter_start_kwh=None if tx.meter_start_wh is None else tx.meter_start_wh / 1e3,
        meter_stop_kwh=None if tx.meter_stop_wh is None else tx.meter_stop_wh / 1e3,
        energy_kwh=energy_kwh,
        started_at=tx.started_at,
        ended_at=tx.ended_at,
        stop_reason=tx.stop_reason,
    )


def sample_groups(
    conn: Connection, meter_values: list[dict[str, Any]]
) -> list[tuple[datetime | None, list[normalise.Sample]]]:
    """(station time if sane, normalised samples) per MeterValue element."""
    return [(station_time(conn, mv.get("timestamp")), normalise.samples(mv)) for mv in meter_values]


async def store_meter_values(
    conn: Connection,
    connector_id: int,
    tx_key: str | None,
    meter_values: list[dict[str, Any]],
    *,
    flag_after_stop: bool = False,
) -> None:
    """A MeterValues message (both versions): commit every sample, then emit the events.

    With ``flag_after_stop`` (1.6), samples for a transaction the station already
    stopped are still stored, flagged ``after_stop`` and counted."""
    core = conn.core
    now = core.clock.now()
    groups = sample_groups(conn, meter_values)

    def work(s: Session) -> bool:
        late = flag_after_stop and store.transaction_stopped(s, conn.station_id, tx_key)
        store.store_samples(
            s,
            conn.station_id,
            connector_id,
            tx_key,
            groups,
            source="MeterValues",
            now=now,
            after_stop=late,
        )
        return late

    if await core.commits.run(work):
        core.metrics.meter_values_after_stop.inc()
        conn.log.info("meter values after StopTransaction", transaction_id=tx_key)
    for sampled_at, items in groups if core.sinks else ():
        event = normalise.to_event(conn.station_id, connector_id, tx_key, sampled_at, items, now)
        if event is not None:
            await core.emit("meter_values", event)
