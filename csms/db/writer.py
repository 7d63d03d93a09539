"""Group commit: units of database work from many connections share one transaction.

Handlers acknowledge a station's message only after its work is committed. Doing
one commit per message caps throughput at the disk's commit rate; batching the
work queued meanwhile keeps that guarantee at a fraction of the cost. When a
batch fails, each unit is retried alone so one bad message cannot fail others
(units are pure database work, safe to re-run after a rollback).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from sqlalchemy import DateTime, insert
from sqlalchemy.orm import Session

from csms.db.database import Database
from csms.metrics import Metrics

T = TypeVar("T")
DEFERRED = "csms_deferred_inserts"
# A unit of work is synchronous ORM code: a whole batch runs without awaiting per statement
Work = Callable[[Session], Any]
# a lazy proxy: binding at import time would freeze the logging config of that moment
log = structlog.get_logger("csms.db")


def defer_insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` with the batch, in one executemany just before its commit.

    For append-only rows nothing in the batch reads back (meter values): a batch of
    MeterValues then costs one INSERT instead of one per message.
    """
    session.info.setdefault(DEFERRED, {}).setdefault(model, []).extend(rows)


def _sqlite_time(value: datetime) -> str:
    # as SQLAlchemy stores a UtcDateTime on SQLite: naive UTC text
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def bulk_insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """executemany of plain-column rows (all with the same keys).

    On SQLite straight through the driver: SQLAlchemy's per-row parameter processing
    cost more than the insert itself. Elsewhere a Core executemany.
    """
    table = model.__table__
    if session.get_bind().dialect.name != "sqlite":
        session.execute(insert(table), rows)
        return
    cols = list(rows[0])
    times = [
        i
        for i, c in enumerate(cols)
        if isinstance(getattr(table.c[c].type, "impl", table.c[c].type), DateTime)
    ]
    params = []
    for row in rows:
        values = [row[c] for c in cols]
        for i in times:
            if values[i] is not None:
                values[i] = _sqlite_time(values[i])
        params.append(values)
    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    raw = session.connection().connection.driver_connection
    assert raw is not None
    raw.executemany(sql, params)


class CommitQueue:
    def __init__(self, database: Database, metrics: Metrics, *, max_batch: int = 256):
        self._db = database
        self._metrics = metrics
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Work, asyncio.Future[Any]]] = asyncio.Queue()

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in the next batch; return its result once committed."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((work, fut))
        return await fut

    def post(self, work: Callable[[Session], Any]) -> None:
        """Queue ``work`` for the next batch without waiting for it (bookkeeping such as
        last_seen_at, where the caller has nothing to acknowledge); failures are logged
        and counted by the writer."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queue.put_nowait((work, fut))

    async def serve(self) -> None:
        """The single writer loop (run it as a task for the life of the app)."""
        while True:
            batch = [await self._queue.get()]
            # let the readers that are ready run first: their work joins this batch
            await asyncio.sleep(0)
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            batch = [(w, f) for w, f in batch if not f.cancelled()]
            if batch:
                await self._commit(batch)

    async def drain(self) -> None:
        """Commit everything queued (at shutdown, after the readers stopped)."""
        while not self._queue.empty():
            batch: list[tuple[Work, asyncio.Future[Any]]] = []
            while not self._queue.empty() and len(batch) < self._max_batch:
                batch.append(self._queue.get_nowait())
            await self._commit([(w, f) for w, f in batch if not f.cancelled()])

    async def _commit(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> None:
        started = time.perf_counter()
        try:
            results = await self._attempt([w for w, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                self._fail(batch[0][1], exc)
            else:
                log.warning(
                    "db batch failed, retrying units alone", size=len(batch), error=str(exc)
                )
                for work, fut in batch:
                    try:
                        (result,) = await self._attempt([work])
                    except Exception as one_exc:
                        self._fail(fut, one_exc)
                    else:
                        if not fut.done():
                            fut.set_result(result)
        else:
            for (_, fut), result in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(result)
        self._metrics.db_latency.observe(time.perf_counter() - started)
        self._metrics.db_batch.observe(len(batch))

    async def _attempt(self, works: list[Work]) -> list[Any]:
        def batch(session: Session) -> list[Any]:
            results = [work(session) for work in works]
            deferred: dict[Any, list[dict[str, Any]]] = session.info.pop(DEFERRED, {})
            for model, rows in deferred.items():
                bulk_insert(session, model, rows)
            return results

        return await self._db.transaction(batch)

    def _fail(self, fut: asyncio.Future[Any], exc: Exception) -> None:
        self._metrics.db_errors.inc()
        log.error("db unit failed", error=repr(exc))
        if not fut.done():
            fut.set_exception(exc)
