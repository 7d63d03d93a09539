"""The station's link to the CSMS: connect, boot, heartbeat, reconnect with backoff.

Backoff and timeouts are real seconds (they pace a network, not the simulated world);
boot retries and heartbeats use the station's clock.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from simulators.chargepoint.transport import (
    CallErrorReceived,
    CallTimedOut,
    ConnectionLost,
    OcppConnection,
)

if TYPE_CHECKING:
    from simulators.chargepoint.offline import QueuedMessage
    from simulators.chargepoint.station import SimStation


async def connection_loop(st: SimStation) -> None:
    """Connect, serve, and reconnect with jittered exponential backoff, forever."""
    backoff_s = st.config.reconnect_min_s
    last_error = ""
    while True:
        await st._allowed.wait()
        headers = {}
        if st.config.password is not None:
            cred = f"{st.config.station_id}:{st.config.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(cred).decode()
        try:
            async with connect(
                st.url,
                subprotocols=[st.proto.subprotocol],  # type: ignore[list-item]
                additional_headers=headers,
                ssl=st._ssl,
                open_timeout=10,
            ) as ws:
                backoff_s, last_error = st.config.reconnect_min_s, ""
                await _serve(st, ws)
        except (OSError, TimeoutError, InvalidHandshake, WebSocketException) as exc:
            if str(exc) != last_error:  # log state changes once, not every retry
                st.log.warning("cannot connect to csms", url=st.url, error=str(exc))
            last_error = str(exc)
        except Exception:  # a bug must not silence the station for the rest of the run
            st.log.exception("connection failed unexpectedly", url=st.url)
        finally:
            st.ready.clear()
            st.conn = None
        if st._reconnect_now:
            st._reconnect_now = False
            continue
        await asyncio.sleep(backoff_s * (0.5 + st._rng.random()))
        backoff_s = min(backoff_s * 2, st.config.reconnect_max_s)


async def _serve(st: SimStation, ws: Any) -> None:
    conn = OcppConnection(
        ws,
        st.config.ocpp_version,
        st.proto.handle,
        lambda coro, name: st.spawn(coro, name),  # type: ignore[arg-type]
        station_id=st.config.station_id,
        call_timeout_s=st.config.call_timeout_s,
        validate_outgoing=st._validate_out,
        bad_answers=st.bad_answers,
    )
    st.conn = conn
    st.connection_count += 1
    st.log.info("connected", url=st.url, subprotocol=ws.subprotocol)
    async with asyncio.TaskGroup() as tg:
        session = tg.create_task(_session(st, conn), name=f"{st.config.station_id}:session")
        await conn.run()
        session.cancel()
    st.log.info("disconnected")


async def _session(st: SimStation, conn: OcppConnection) -> None:
    """Boot, report every status, then heartbeat until the connection goes."""
    try:
        if st._need_boot or st.config.boot_on_reconnect:
            await _boot(st, conn)
        st.ready.set()
        for c in st.connectors.values():
            c.reported_status = None  # the CSMS gets every status after a (re)connect
        await st.proto.report_station(conn)
        for c in st.connectors.values():
            await st.proto.report(c)
        st._accepted.set()
        await st.resume_transactions()
        while True:
            await st.clock.sleep(st.heartbeat_interval_s)
            try:
                await st.proto.heartbeat(conn)
            except CallErrorReceived as exc:  # a refusal is no reason to hang up
                st.log.warning("heartbeat refused", code=exc.code)
    except (ConnectionLost, CallTimedOut, CallErrorReceived) as exc:
        st.log.warning("session ended", error=str(exc))
        conn.abort()


async def _boot(st: SimStation, conn: OcppConnection) -> None:
    while True:
        status, interval_s = await st.proto.boot(conn, st._boot_reason)
        if interval_s > 0:
            st.heartbeat_interval_s = interval_s
        if status == "Accepted":
            st.boot_count += 1
            st._need_boot, st._boot_reason = False, "PowerUp"
            st.log.info("boot accepted", boots=st.boot_count)
            return
        st.log.info("boot not accepted", status=status)
        await st.clock.sleep(interval_s if interval_s > 0 else 60)


async def shutdown_link(st: SimStation, stop_reason: str, timeout_s: float) -> list[QueuedMessage]:
    """Stop every transaction, drain the transaction queue (at most ``timeout_s`` real
    seconds), close the websocket with 1001 (going away); returns what is still queued."""
    for c in st.connectors.values():
        if c.tx is not None:
            try:
                await st.stop_transaction(c, stop_reason)
            except Exception:
                st.log.exception("transaction not stopped", connector_id=c.connector_id)
    # offline on purpose (go_offline): nothing can arrive, so do not wait for it
    if len(st.queue) and st._allowed.is_set() and timeout_s > 0:
        with contextlib.suppress(TimeoutError):
            await st.flush(timeout_s)
    undelivered = st.queue.pending()
    if undelivered:
        st.log.error(
            "transaction messages undelivered at shutdown",
            count=len(undelivered),
            actions=sorted({m.action for m in undelivered}),
        )
    st._allowed.clear()  # no reconnect from here on
    conn = st.conn
    if conn is not None:
        st.ready.clear()
        await conn.close(1001, "station shutting down")
    return undelivered
