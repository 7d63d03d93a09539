"""SimStation: one simulated charging station (OCPP 1.6J or 2.0.1) connected to a CSMS.

Lifecycle: ``async with SimStation(config, "ws://host:port/ocpp", clock) as st:`` connects
to ``{csms_url}/{station_id}``, boots, sends statuses and heartbeats, meters every
``meter_interval_s`` (simulated) and reconnects with jittered backoff (real seconds)
whenever the connection is lost. Version specifics live in v16.py / v201.py.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Coroutine
from datetime import timedelta
from ssl import SSLContext
from typing import Any

from evcommon.clock import Clock
from evcommon.errors import EvsiteError
from evcommon.logs import get_logger
from simulators.chargepoint.config import StationConfig
from simulators.chargepoint.connector import Connector, Transaction, advance, peek
from simulators.chargepoint.link import connection_loop, shutdown_link
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
from simulators.profiles import RateUnit


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
        self.queue = TxQueue(
            config.station_id,
            attempts=config.transaction_message_attempts,
            retry_interval_s=config.transaction_message_retry_interval_s,
        )
        self.conn: OcppConnection | None = None
        self.heartbeat_interval_s = config.heartbeat_interval_s
        self.meter_interval_s = config.meter_interval_s  # simulated seconds; CSMS may change it
        self.boot_count = 0  # accepted BootNotifications
        self.connection_count = 0
        #: CSMS answers that broke their schema, (action, problem); tests assert it stays empty
        self.bad_answers: list[tuple[str, str]] = []
        self.ready = asyncio.Event()  # connected and booted: messages may flow
        self._accepted = asyncio.Event()
        self._status_dirty = asyncio.Event()
        self.reset_when_idle = False  # 2.0.1 Reset OnIdle answered Scheduled
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
        self._closed = False  # shutdown() ran: no reconnects, no draining again
        #: transaction messages still queued when the station shut down
        self.undelivered: list[QueuedMessage] = []
        self.proto: VersionAdapter = _adapter(self)

    # lifecycle ------------------------------------------------------------------
    async def __aenter__(self) -> SimStation:
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        self.spawn(connection_loop(self), "connection", guard=False)
        self.spawn(self.queue.run(self._deliver, self.ready), "tx-queue", guard=False)
        self.spawn(self._meter_loop(), "meter", guard=False)
        self.spawn(self._status_loop(), "status", guard=False)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        # a normal exit or an error in the caller's code: shut down like a charger that is
        # switched off properly; a cancellation (or Ctrl-C) only drops the socket
        if not self._closed and (exc_type is None or issubclass(exc_type, Exception)):
            try:
                await self.shutdown()
            except Exception:
                self.log.exception("graceful shutdown failed")
        for task in list(self._tasks):
            task.cancel()
        if self.conn is not None:
            self.conn.abort()
        assert self._tg is not None
        await self._tg.__aexit__(None, None, None)

    async def shutdown(
        self, *, stop_reason: str = "Other", drain_timeout_s: float | None = None
    ) -> list[QueuedMessage]:
        """End the station's part of a run: stop every transaction, deliver the queued
        transaction messages (waiting at most ``drain_timeout_s`` real seconds, default
        ``config.drain_timeout_s``), then close the websocket with code 1001 (going away).

        Returns what could not be delivered (also kept in :attr:`undelivered` and logged);
        a real charger keeps it for its next connection, a simulator can only report it.
        Idempotent; the context manager calls it on exit."""
        if not self._closed:
            self._closed = True
            timeout_s = self.config.drain_timeout_s if drain_timeout_s is None else drain_timeout_s
            self.undelivered = await shutdown_link(self, stop_reason, timeout_s)
        return self.undelivered

    def delivery(self) -> dict[str, int]:
        """Transaction messages delivered, given up (CALLERROR attempts exhausted) and
        still queued (undelivered at shutdown)."""
        return {
            "delivered": self.queue.delivered,
            "dropped": self.queue.dropped,
            "undelivered": len(self.queue),
        }

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
            (token, remote_id, expiry), c.pending_remote = c.pending_remote, None
            if self.clock.now() <= expiry:  # within ConnectionTimeOut / EVConnectionTimeOut
                await self.start_transaction(c, token, remote_start_id=remote_id)
                return True
        if not c.operative:
            return False
        token = id_token or getattr(ev, "id_token", None) or self.config.id_token
        if not await self._authorize(token):
            self.log.info("id token rejected", connector_id=connector_id)
            return False
        await self.start_transaction(c, token)
        await self._ev_needs(c)
        return True

    async def _authorize(self, token: str) -> bool:
        if not self.online:
            return True  # LocalAuthorizeOffline
        try:
            return await self.proto.authorize(token)
        except (ConnectionLost, CallTimedOut) as exc:
            self.log.info("authorized locally", error=str(exc))
            return True

    async def start_transaction(
        self, c: Connector, id_token: str, *, remote_start_id: int | None = None
    ) -> Transaction:
        if c.tx is not None:
            raise StationError(f"connector {c.connector_id} already has a transaction")
        self.advance()
        # the register was read at c.last_step: the same instant is the start time
        c.tx = Transaction(id_token, c.last_step, c.energy_wh, remote_start_id=remote_start_id)
        self.proto.prepare_transaction(c.tx)
        self.store.start_transaction(c.connector_id, c.tx.csms_id)
        peek(self.config, self.store, c, c.last_step)
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
        if c.scheduled_operative is not None:  # a ChangeAvailability answered Scheduled
            c.operative, c.scheduled_operative = c.scheduled_operative, None
        await self.proto.report(c)
        if self.reset_when_idle and all(x.tx is None for x in self.connectors.values()):
            self.reset_when_idle = False
            self.spawn(self.reboot("Reboot"), "scheduled-reset")

    async def unplug(self, connector_id: int) -> None:
        c = self.connector(connector_id)
        if c.tx is not None:
            await self.stop_transaction(c, "EVDisconnected")
        c.ev, c.finishing, c.pending_remote = None, False, None
        await self.proto.report(c)

    def await_cable(self, c: Connector, id_token: str, remote_start_id: int | None) -> None:
        """A remote start before the EV is plugged in: start when it arrives within
        the connection timeout (1.6 ConnectionTimeOut, 2.0.1 TxCtrlr.EVConnectionTimeOut)."""
        expiry = self.clock.now() + timedelta(seconds=self.proto.connection_timeout_s())
        c.pending_remote = (id_token, remote_start_id, expiry)

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

    def set_external_limit(
        self, limit: float | None, unit: RateUnit = "W", evse_id: int = 0
    ) -> None:
        """A local energy manager's limit (2.0.1 ChargingStationExternalConstraints; it
        also binds a 1.6 station). ``None`` removes it. The CSMS can neither set nor clear it."""
        self.advance()
        self.store.set_external_limit(limit, unit, evse_id, self.clock.now())

    def transaction_id(self, connector_id: int) -> str | None:
        tx = self.connector(connector_id).tx
        return None if tx is None else tx.csms_id

    def advance(self) -> None:
        """Integrate the EVs' charging up to now (before anything changes the limits)."""
        # afterwards every connector's last_step is the instant its register was read;
        # events use it as their timestamp so energy and time always agree
        advance(self.config, self.store, list(self.connectors.values()), self.clock.now())

    def sample(self) -> None:
        """Take a meter sample now: MeterValues for every transaction (queued, so this
        never waits for the network); status changes are sent by the status task."""
        self.advance()
        for c in self.connectors.values():
            if c.tx is not None:
                self.proto.charging_state_changed(c)
                self.proto.tx_meter(c)
        self._status_dirty.set()

    async def _meter_loop(self) -> None:
        # anchored ticks: the meter never waits for the network, and ticks do not drift
        due = self.clock.now()
        while True:
            # the CSMS may change the interval (MeterValueSampleInterval, TxUpdatedInterval)
            interval = timedelta(seconds=self.meter_interval_s or self.config.meter_interval_s)
            due += interval
            await self.clock.sleep_until(due)
            if self.meter_interval_s > 0:  # 0: no sampled data
                try:
                    self.sample()
                except Exception:  # log loudly, keep metering: a long run must not go silent
                    self.log.exception("meter sample failed")
            if self.clock.now() - due > interval:
                # fell behind an accelerated clock: skip the missed ticks instead of
                # sending a burst of samples that all carry the same time
                due = self.clock.now()

    async def _status_loop(self) -> None:
        while True:
            await self._status_dirty.wait()
            self._status_dirty.clear()
            for c in self.connectors.values():
                try:
                    await self.proto.report(c)
                except Exception:
                    self.log.exception("status report failed", connector_id=c.connector_id)

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
        conn = self.conn
        if conn is not None:
            self.ready.clear()
            conn.abort()
            await conn.closed.wait()

    async def wait_online(self, timeout_s: float = 10.0) -> None:
        """Wait (real seconds) until connected and booted again."""
        async with asyncio.timeout(timeout_s):
            await self.ready.wait()

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
        if self.config.quirks.rate_units_after_reboot is not None:
            # quirk: new firmware / a replaced box that supports other units
            self.config.quirks.rate_units = self.config.quirks.rate_units_after_reboot
            self.proto.configuration_changed()
        self._need_boot, self._boot_reason, self._reconnect_now = True, "RemoteReset", True
        self.heartbeat_interval_s = self.config.heartbeat_interval_s
        if self.conn is not None:
            await self.conn.close()
            await self.conn.closed.wait()

    async def set_operative(self, connector_id: int, operative: bool) -> None:
        targets = self.connectors.values() if connector_id == 0 else [self.connector(connector_id)]
        for c in targets:
            self.advance()
            if c.tx is not None and not operative:
                c.scheduled_operative = False  # applies when the transaction ends
                continue
            c.operative, c.scheduled_operative = operative, None
            await self.proto.report(c)

    async def resume_transactions(self) -> None:
        """After a reboot, an EV that stayed plugged in starts a new transaction."""
        for c in self.connectors.values():
            if c.resume_after_boot:
                c.resume_after_boot = False
                if c.ev is not None and c.tx is None:
                    token = getattr(c.ev, "id_token", None) or self.config.id_token
                    await self.start_transaction(c, token)


def _adapter(station: SimStation) -> VersionAdapter:
    if station.config.ocpp_version == "1.6":
        from simulators.chargepoint.v16 import V16Adapter

        return V16Adapter(station)
    from simulators.chargepoint.v201 import V201Adapter

    return V201Adapter(station)


__all__ = ["SimStation", "StationError"]
