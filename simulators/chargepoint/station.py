"""SimStation: one simulated charging station (OCPP 1.6J or 2.0.1) connected to a CSMS.

Lifecycle: ``async with SimStation(config, "ws://host:port/ocpp", clock) as st:`` connects
to ``{csms_url}/{station_id}``, boots, sends statuses and heartbeats, meters every
``meter_interval_s`` (simulated) and reconnects with jittered backoff (real seconds)
whenever the connection is lost. Version specifics live in v16.py / v201.py.
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Awaitable, Coroutine
from ssl import SSLContext
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from evcommon.clock import Clock
from evcommon.errors import EvsiteError
from evcommon.logs import get_logger
from simulators.chargepoint.config import StationConfig
from simulators.chargepoint.connector import Connector, Transaction, advance, peek
from simulators.chargepoint.offline import QueuedMessage, TxQueue
from simulators.chargepoint.store import ProfileStore
from simulators.chargepoint.transport import (
    CallErrorReceived,
    CallTimedOut,
    ConnectionLost,
    OcppConnection,
)
from simulators.chargepoint.version import VersionAdapter
from simulators.ports import EvLoad


class StationError(EvsiteError):
    """A simulator action that makes no sense in the station's state."""


class SimStation:
    def __init__(
        self,
        config: StationConfig,
        csms_url: str,
        clock: Clock,
        *,
        ssl: SSLContext | None = None,
        seed: int | None = None,
        validate_outgoing: bool = True,
    ):
        self.config = config
        self.url = f"{csms_url.rstrip('/')}/{config.station_id}"
        self.clock = clock
        self.log = get_logger("sim.cp", station_id=config.station_id)
        now = clock.now()
        self.connectors = {i: Connector(i, now) for i in range(1, config.connectors + 1)}
        self.store = ProfileStore(config)
        self.queue = TxQueue(config.station_id, attempts=config.transaction_message_attempts)
        self.conn: OcppConnection | None = None
        self.heartbeat_interval_s = config.heartbeat_interval_s
        self.boot_count = 0  # accepted BootNotifications
        self.connection_count = 0
        self.ready = asyncio.Event()  # connected and booted: messages may flow
        self._accepted = asyncio.Event()
        self._allowed = asyncio.Event()
        self._allowed.set()
        self._need_boot = True
        self._boot_reason = "PowerUp"
        self._reconnect_now = False
        self._ssl = ssl
        self._rng = random.Random(seed)
        self._validate_out = validate_outgoing
        self._tg: asyncio.TaskGroup | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.proto: VersionAdapter = _adapter(self)

    # lifecycle ------------------------------------------------------------------
    async def __aenter__(self) -> SimStation:
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        self.spawn(self._connection_loop(), "connection", guard=False)
        self.spawn(self.queue.run(self._deliver, self.ready), "tx-queue", guard=False)
        self.spawn(self._meter_loop(), "meter", guard=False)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.conn is not None:
            self.conn.abort()
        assert self._tg is not None
        await self._tg.__aexit__(None, None, None)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str, *, guard: bool = True) -> None:
        """Run ``coro`` in the station's task group; guarded tasks log failures."""
        assert self._tg is not None, "use SimStation as an async context manager"
        task = self._tg.create_task(
            self._guard(coro, name) if guard else coro, name=f"{self.config.station_id}:{name}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, coro: Awaitable[None], name: str) -> None:
        try:
            await coro
        except (ConnectionLost, CallTimedOut, CallErrorReceived) as exc:
            self.log.warning("station task failed", task=name, error=str(exc))
        except Exception:
            self.log.exception("station task crashed", task=name)

    async def wait_accepted(self, timeout_s: float = 10.0) -> None:
        """Wait (real seconds) until a BootNotification has been Accepted."""
        async with asyncio.timeout(timeout_s):
            await self._accepted.wait()

    @property
    def online(self) -> bool:
        return self.ready.is_set()

    # the EV side ------------------------------------------------------------------
    def connector(self, connector_id: int) -> Connector:
        try:
            return self.connectors[connector_id]
        except KeyError:
            raise StationError(f"{self.config.station_id}: no connector {connector_id}") from None

    async def plug_in(self, connector_id: int, ev: EvLoad, *, id_token: str | None = None) -> bool:
        """Plug ``ev`` in, authorize and start a transaction; False when not authorized."""
        c = self.connector(connector_id)
        if c.ev is not None:
            raise StationError(f"connector {connector_id} is occupied")
        self.advance()
        c.ev, c.finishing = ev, False
        await self.proto.report(c)
        if c.pending_remote is not None:
            (token, remote_id), c.pending_remote = c.pending_remote, None
            await self.start_transaction(c, token, remote_start_id=remote_id)
            return True
        if not c.operative:
            return False
        token = id_token or getattr(ev, "id_token", None) or self.config.id_token
        if self.online and not await self.proto.authorize(token):
            self.log.info("id token rejected", connector_id=connector_id)
            return False
        await self.start_transaction(c, token)
        await self._ev_needs(c)
        return True

    async def start_transaction(
        self, c: Connector, id_token: str, *, remote_start_id: int | None = None
    ) -> Transaction:
        if c.tx is not None:
            raise StationError(f"connector {c.connector_id} already has a transaction")
        self.advance()
        c.tx = Transaction(id_token, self.clock.now(), c.energy_wh, remote_start_id=remote_start_id)
        self.proto.prepare_transaction(c.tx)
        self.store.start_transaction(c.connector_id, c.tx.csms_id)
        peek(self.config, self.store, c, self.clock.now())
        self.proto.tx_started(c)
        await self.proto.report(c)
        return c.tx

    async def stop_charging(self, connector_id: int, reason: str = "Local") -> None:
        """End the transaction on ``connector_id`` (1.6 Reason / 2.0.1 ReasonEnumType)."""
        c = self.connector(connector_id)
        if c.tx is None:
            raise StationError(f"connector {connector_id} has no transaction")
        await self.stop_transaction(c, reason)

    async def stop_transaction(self, c: Connector, reason: str) -> None:
        if c.tx is None:
            return
        self.advance()
        c.tx.stop_reason = reason
        self.proto.tx_ended(c, reason)
        self.store.end_transaction(c.connector_id)
        c.tx, c.power_w, c.offered_w = None, 0.0, 0.0
        c.finishing = c.ev is not None
        await self.proto.report(c)

    async def unplug(self, connector_id: int) -> None:
        c = self.connector(connector_id)
        if c.tx is not None:
            await self.stop_transaction(c, "EVDisconnected")
        c.ev, c.finishing, c.pending_remote = None, False, None
        await self.proto.report(c)

    def power_kw(self, connector_id: int) -> float:
        return self.connector(connector_id).power_w / 1000.0

    def energy_kwh(self, connector_id: int) -> float:
        """The connector's energy register now."""
        self.advance()
        return self.connector(connector_id).energy_wh / 1000.0

    def limit_kw(self, connector_id: int) -> float:
        """The composite schedule's limit now (hardware limit when no profile applies)."""
        c = self.connector(connector_id) if connector_id else None
        comp = self.store.composite(
            connector_id, self.clock.now(), 1, "W", c.tx_context() if c else None
        )
        return comp.periods[0].limit / 1000.0

    def transaction_id(self, connector_id: int) -> str | None:
        tx = self.connector(connector_id).tx
        return None if tx is None else tx.csms_id

    def advance(self) -> None:
        """Integrate the EVs' charging up to now (before anything changes the limits)."""
        advance(self.config, self.store, list(self.connectors.values()), self.clock.now())

    async def sample(self) -> None:
        """Take a meter sample now: MeterValues for every transaction, status changes."""
        self.advance()
        for c in self.connectors.values():
            await self.proto.report(c)
            if c.tx is not None:
                self.proto.tx_meter(c)

    async def _meter_loop(self) -> None:
        while True:
            await self.clock.sleep(self.config.meter_interval_s)
            try:
                await self.sample()
            except (ConnectionLost, CallTimedOut, CallErrorReceived) as exc:
                self.log.info("status not reported", error=str(exc))

    async def _ev_needs(self, c: Connector) -> None:
        if c.ev is not None and self.online:
            try:
                await self.proto.ev_charging_needs(c)
            except (ConnectionLost, CallTimedOut, CallErrorReceived) as exc:
                self.log.info("charging needs not sent", error=str(exc))

    # messages ---------------------------------------------------------------------
    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CALL now; fails with ConnectionLost when not connected."""
        conn = self.conn
        if conn is None:
            raise ConnectionLost(f"{action}: {self.config.station_id} is offline")
        return await conn.call(action, payload)

    def enqueue(
        self, action: str, payload: dict[str, Any], tx_ref: str | None = None
    ) -> asyncio.Future[dict[str, Any]]:
        """Queue a transaction-related message (delivered in order, never lost)."""
        return self.queue.put(QueuedMessage(action, payload, self.clock.now(), tx_ref))

    async def _deliver(self, msg: QueuedMessage) -> dict[str, Any]:
        result = await self.call(msg.action, self.proto.resolve(msg))
        self.proto.delivered(msg, result)
        return result

    async def flush(self, timeout_s: float = 10.0) -> None:
        """Wait (real seconds) until every queued transaction message was answered."""
        async with asyncio.timeout(timeout_s):
            await self.queue.drained()

    async def send_raw(self, frame: str | bytes) -> None:
        if self.conn is None:
            raise ConnectionLost("offline")
        await self.conn.send_raw(frame)

    # network and power --------------------------------------------------------------
    async def drop_connection(self) -> None:
        """A network loss: the socket dies without a close handshake; we reconnect."""
        if self.conn is not None:
            self.conn.abort()
            await self.conn.closed.wait()

    async def go_offline(self) -> None:
        """Lose the network until :meth:`go_online` (messages queue meanwhile)."""
        self._allowed.clear()
        await self.drop_connection()

    def go_online(self) -> None:
        self._allowed.set()

    async def reboot(self, reason: str = "Reboot") -> None:
        """Power-cycle: transactions end, profiles go (unless configured otherwise), boot again."""
        for c in self.connectors.values():
            if c.tx is not None:
                await self.stop_transaction(c, reason)
                c.resume_after_boot = c.ev is not None
        if self.config.quirks.lose_profiles_on_reboot:
            self.store.reset()
        self._need_boot, self._boot_reason, self._reconnect_now = True, "RemoteReset", True
        self.heartbeat_interval_s = self.config.heartbeat_interval_s
        if self.conn is not None:
            await self.conn.close()
            await self.conn.closed.wait()

    async def set_operative(self, connector_id: int, operative: bool) -> None:
        targets = self.connectors.values() if connector_id == 0 else [self.connector(connector_id)]
        for c in targets:
            self.advance()
            c.operative = operative
            await self.proto.report(c)

    async def _connection_loop(self) -> None:
        backoff_s = self.config.reconnect_min_s
        last_error = ""
        while True:
            await self._allowed.wait()
            headers = {}
            if self.config.password is not None:
                cred = f"{self.config.station_id}:{self.config.password}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(cred).decode()
            try:
                async with connect(
                    self.url,
                    subprotocols=[self.proto.subprotocol],  # type: ignore[list-item]
                    additional_headers=headers,
                    ssl=self._ssl,
                    open_timeout=10,
                ) as ws:
                    backoff_s, last_error = self.config.reconnect_min_s, ""
                    await self._serve(ws)
            except (OSError, TimeoutError, InvalidHandshake, WebSocketException) as exc:
                if str(exc) != last_error:  # log state changes once, not every retry
                    self.log.warning("cannot connect to csms", url=self.url, error=str(exc))
                last_error = str(exc)
            finally:
                self.ready.clear()
                self.conn = None
            if self._reconnect_now:
                self._reconnect_now = False
                continue
            await asyncio.sleep(backoff_s * (0.5 + self._rng.random()))
            backoff_s = min(backoff_s * 2, self.config.reconnect_max_s)

    async def _serve(self, ws: Any) -> None:
        conn = OcppConnection(
            ws,
            self.config.ocpp_version,
            self.proto.handle,
            lambda coro, name: self.spawn(coro, name),  # type: ignore[arg-type]
            station_id=self.config.station_id,
            call_timeout_s=self.config.call_timeout_s,
            validate_outgoing=self._validate_out,
        )
        self.conn = conn
        self.connection_count += 1
        self.log.info("connected", url=self.url, subprotocol=ws.subprotocol)
        async with asyncio.TaskGroup() as tg:
            session = tg.create_task(self._session(conn), name=f"{self.config.station_id}:session")
            await conn.run()
            session.cancel()
        self.log.info("disconnected")

    async def _session(self, conn: OcppConnection) -> None:
        try:
            if self._need_boot or self.config.boot_on_reconnect:
                await self._boot(conn)
            self.ready.set()
            self._accepted.set()
            for c in self.connectors.values():
                c.reported_status = None  # the CSMS gets every status after a (re)connect
            await self.proto.report_station(conn)
            for c in self.connectors.values():
                await self.proto.report(c)
                if c.resume_after_boot:
                    c.resume_after_boot = False
                    if c.ev is not None and c.tx is None:
                        await self.start_transaction(
                            c, getattr(c.ev, "id_token", None) or self.config.id_token
                        )
            while True:
                await self.clock.sleep(self.heartbeat_interval_s)
                await self.proto.heartbeat(conn)
        except (ConnectionLost, CallTimedOut, CallErrorReceived) as exc:
            self.log.warning("session ended", error=str(exc))
            conn.abort()

    async def _boot(self, conn: OcppConnection) -> None:
        while True:
            status, interval_s = await self.proto.boot(conn, self._boot_reason)
            if interval_s > 0:
                self.heartbeat_interval_s = interval_s
            if status == "Accepted":
                self.boot_count += 1
                self._need_boot, self._boot_reason = False, "PowerUp"
                self.log.info("boot accepted", boots=self.boot_count)
                return
            self.log.info("boot not accepted", status=status)
            await self.clock.sleep(interval_s if interval_s > 0 else 60)


def _adapter(station: SimStation) -> VersionAdapter:
    if station.config.ocpp_version == "1.6":
        from simulators.chargepoint.v16 import V16Adapter

        return V16Adapter(station)
    from simulators.chargepoint.v201 import V201Adapter

    return V201Adapter(station)


__all__ = ["SimStation", "StationError"]
