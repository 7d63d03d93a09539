"""Driver requests: one link per transaction, the request behind it, and its contract
traffic. Thin front ends (csms.http, a CLI) call :class:`RequestService`.

- transaction start -> an unguessable token (only its sha256 is stored), handed to the
  notifier; transaction end -> the retained request on MQTT is cleared;
- submit / change / withdraw, each an appended revision, checked against the CSMS clock;
  each accepted one is published retained as ``EVChargingNeeds(source="driver")``;
- the edge's retained ``SitePlan`` is kept per connector to show the plan.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError

from csms.db.models import DriverRequest, DriverSession
from csms.requests import store
from csms.requests.config import DriversSection
from csms.requests.notifiers import Notifier, NotifierMetrics, SessionNotice
from csms.requests.validate import (
    Conflict,
    RequestBody,
    SessionEnded,
    UnknownSession,
    check,
)
from evcommon import contract
from evcommon.clock import Clock
from evcommon.logs import get_logger

log = get_logger(__name__)
TOKEN_BYTES = 24


class RetainedPublisher(Protocol):
    """The MQTT side (csms.bridge.client.MqttBridge implements it)."""

    def put_retained(self, topic: str, payload: bytes) -> None:
        """Publish retained, QoS 1 (again after every reconnect); b"" clears the topic."""
        ...

    def subscribe(self, topic_filter: str, callback: Callable[[str, bytes], None]) -> None:
        """Call ``callback(topic, payload)`` for every message on ``topic_filter``."""
        ...


@dataclass(frozen=True)
class RequestView:
    departure_at: datetime | None
    energy_kwh: float | None
    distance_miles: float | None
    opt_out: bool
    revision: int
    submitted_at: datetime


@dataclass(frozen=True)
class PlanView:
    expected_finish_at: datetime | None
    target_energy_kwh: float | None
    planned_energy_kwh: float | None
    limit_kw: float | None
    reason: str | None


@dataclass(frozen=True)
class SessionView:
    station_id: str
    connector_id: int
    transaction_id: str
    started_at: datetime | None
    ended_at: datetime | None
    energy_kwh: float | None
    request: RequestView | None
    plan: PlanView | None


def request_view(row: DriverRequest | None) -> RequestView | None:
    if row is None or row.withdrawn:
        return None
    return RequestView(
        departure_at=row.departure_at,
        energy_kwh=row.energy_kwh,
        distance_miles=row.distance_miles,
        opt_out=bool(row.opt_out),
        revision=row.revision,
        submitted_at=row.submitted_at,
    )


class RequestService:
    def __init__(
        self,
        settings: DriversSection,
        database: Any,
        clock: Clock,
        notifier: Notifier,
        metrics: NotifierMetrics,
        *,
        topics: contract.Topics | None = None,
        publisher: RetainedPublisher | None = None,
        link_base: str = "",
    ):
        self.settings = settings
        self.database = database
        self.clock = clock
        self.notifier = notifier
        self.metrics = metrics
        self.topics = topics or contract.Topics()
        self.publisher = publisher
        self.link_base = link_base
        self.plans: dict[tuple[str, int], contract.PlanEntry] = {}
        self.plan_seen = asyncio.Event()  # set on every SitePlan received (tests wait on it)
        self._events: asyncio.Queue[contract.TransactionEvent] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        """Re-publish the requests of open transactions; subscribe to the site plans."""
        if self.publisher is None:
            return
        self.publisher.subscribe(self.topics.site_plan("+"), self.on_site_plan_message)
        rows = await self.database.transaction(store.open_requests)
        for session, latest in rows:
            self._publish(session, latest)
        if rows:
            log.info("driver requests re-published", count=len(rows))

    async def run(self) -> None:
        """Handle transaction events in order (start before end); runs until cancelled."""
        while True:
            event = await self._events.get()
            try:
                if event.event == "started":
                    await self.session_started(event)
                elif event.event == "ended":
                    await self.session_ended(event)
            except Exception:
                log.exception("driver request bookkeeping failed", tx=event.transaction_id)
            finally:
                self._events.task_done()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def notified(self) -> None:
        """Until every notification under way has succeeded or failed for good."""
        await self.idle()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def on_transaction(self, event: contract.TransactionEvent) -> None:
        self._events.put_nowait(event)

    async def idle(self) -> None:
        """Until every queued transaction event is handled (tests, shutdown)."""
        await self._events.join()

    # -- transaction start / end ----------------------------------------------------
    async def session_started(self, event: contract.TransactionEvent) -> str | None:
        """Create the link of a new transaction and notify; returns the token (None when
        the transaction has one already)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        digest = store.token_hash(token)
        created = await self.database.transaction(
            lambda s: store.create_session(
                s,
                station_id=event.station_id,
                tx_key=event.transaction_id,
                connector_id=event.connector_id,
                digest=digest,
                now=self.clock.now(),
            )
        )
        if not created:
            return None
        notice = SessionNotice(
            station_id=event.station_id,
            connector_id=event.connector_id,
            transaction_id=event.transaction_id,
            id_tag=event.id_token,
            started_at=None if event.started_at is None else _iso(event.started_at),
            link=f"{self.link_base}/r/{token}",
            token=token,
        )
        task = asyncio.create_task(self._notify(notice, digest), name="driver-notify")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return token

    async def _notify(self, notice: SessionNotice, digest: str) -> None:
        name = self.notifier.name
        error: str | None
        try:
            await self.notifier.notify(notice)
        except Exception as exc:
            self.metrics.sent.labels(name, "failed").inc()
            log.error(
                "driver notification failed",
                notifier=name,
                station_id=notice.station_id,
                transaction_id=notice.transaction_id,
                error=str(exc) or type(exc).__name__,
            )
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        else:
            self.metrics.sent.labels(name, "ok").inc()
            status, error = "sent", None
        await self.database.transaction(lambda s: store.set_notify_status(s, digest, status, error))

    async def session_ended(self, event: contract.TransactionEvent) -> None:
        found = await self.database.transaction(
            lambda s: store.find_by_transaction(s, event.station_id, event.transaction_id)
        )
        if found is not None and self.publisher is not None:
            topic = self.topics.driver_request(found.session.station_id, found.session.connector_id)
            self.publisher.put_retained(topic, b"")

    # -- queries and changes ---------------------------------------------------------
    async def _find(self, token: str) -> store.Found:
        found = await self.database.transaction(lambda s: store.find(s, store.token_hash(token)))
        if found is None:
            raise UnknownSession("no session has this link")
        return found

    async def session(self, token: str) -> SessionView:
        digest = store.token_hash(token)

        def read(s: Any) -> tuple[store.Found | None, float | None]:
            found = store.find(s, digest)
            if found is None or found.transaction is None:
                return found, None
            return found, store.energy_so_far_kwh(s, found.transaction)

        found, energy = await self.database.transaction(read)
        if found is None:
            raise UnknownSession("no session has this link")
        row, tx = found.session, found.transaction
        return SessionView(
            station_id=row.station_id,
            connector_id=row.connector_id,
            transaction_id=row.tx_key,
            started_at=tx.started_at if tx is not None else None,
            ended_at=tx.ended_at if tx is not None else None,
            energy_kwh=energy,
            request=request_view(found.latest),
            plan=self.plan_of(row) if tx is None or tx.ended_at is None else None,
        )

    async def submit(self, token: str, body: RequestBody) -> RequestView:
        """Store a new revision of the request; raises RequestError (nothing changes):
        an unknown or ended session first, then the first invalid field."""
        self._refuse_if_ended(await self._find(token))
        fields = check(body, self.clock.now(), self.settings)
        return await self._append(token, fields)

    async def withdraw(self, token: str) -> int:
        """Take the request back (the session charges as if none was made); returns the
        revision now in force (0: there never was a request). Withdrawing what is not in
        force changes nothing."""
        found = await self._find(token)
        if found.latest is None or found.latest.withdrawn:
            self._refuse_if_ended(found)
            return 0 if found.latest is None else found.latest.revision
        fields = {"opt_out": False, "withdrawn": True, "submitted_at": self.clock.now()}
        return (await self._append(token, fields)).revision

    async def history(self, token: str) -> list[DriverRequest]:
        found = await self._find(token)
        return await self.database.transaction(lambda s: store.revisions(s, found.session.id))

    @staticmethod
    def _refuse_if_ended(found: store.Found) -> None:
        if found.transaction is not None and found.transaction.ended_at is not None:
            raise SessionEnded("this charging session has ended")

    async def _append(self, token: str, fields: dict[str, Any]) -> RequestView:
        digest = store.token_hash(token)

        def write(s: Any) -> tuple[DriverSession, DriverRequest]:
            found = store.find(s, digest)
            if found is None:
                raise UnknownSession("no session has this link")
            self._refuse_if_ended(found)
            return found.session, store.add_revision(s, found.session.id, fields)

        try:
            session, row = await self.database.transaction(write)
        except IntegrityError as exc:
            raise Conflict("the request changed meanwhile; send it again") from exc
        self._publish(session, row)
        log.info(
            "driver request stored",
            station_id=session.station_id,
            transaction_id=session.tx_key,
            revision=row.revision,
            withdrawn=row.withdrawn,
            opt_out=row.opt_out,
        )
        view = request_view(row)
        return view if view is not None else _withdrawn_view(row)

    # -- contract ----------------------------------------------------------------------
    def needs(self, session: DriverSession, row: DriverRequest) -> contract.EVChargingNeeds:
        return contract.EVChargingNeeds(
            ts=self.clock.now(),
            station_id=session.station_id,
            connector_id=session.connector_id,
            transaction_id=session.tx_key,
            source="driver",
            departure_time=None if row.withdrawn else row.departure_at,
            energy_amount_kwh=None if row.withdrawn else row.energy_kwh,
            opt_out=bool(row.opt_out),
            withdrawn=bool(row.withdrawn),
        )

    def _publish(self, session: DriverSession, row: DriverRequest) -> None:
        if self.publisher is None:
            return
        topic = self.topics.driver_request(session.station_id, session.connector_id)
        self.publisher.put_retained(topic, contract.encode(self.needs(session, row)))

    def on_site_plan_message(self, topic: str, payload: bytes) -> None:
        if not payload:
            return
        try:
            plan = contract.decode(contract.SitePlan, payload)
        except contract.ContractError as exc:
            log.warning("site plan not understood", topic=topic, error=str(exc))
            return
        self.on_site_plan(plan)

    def on_site_plan(self, plan: contract.SitePlan) -> None:
        for entry in plan.connectors:
            self.plans[(entry.station_id, entry.connector_id)] = entry
        self.plan_seen.set()

    def plan_of(self, session: DriverSession) -> PlanView | None:
        entry = self.plans.get((session.station_id, session.connector_id))
        if entry is None or entry.transaction_id not in (None, session.tx_key):
            return None
        return PlanView(
            expected_finish_at=entry.expected_finish_at,
            target_energy_kwh=entry.target_energy_kwh,
            planned_energy_kwh=entry.planned_energy_kwh,
            limit_kw=entry.limit_kw,
            reason=entry.reason,
        )


def _withdrawn_view(row: DriverRequest) -> RequestView:
    return RequestView(None, None, None, False, row.revision, row.submitted_at)


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")
