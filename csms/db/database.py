"""The database handle: an async engine for SQLite (aiosqlite) or PostgreSQL (asyncpg),
sessions, and Alembic migrations run programmatically on start-up."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import structlog
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from csms.db.url import async_url, redact_url
from csms.errors import CsmsError

T = TypeVar("T")
# a lazy proxy: binding at import time would freeze the logging config of that moment
log = structlog.get_logger("csms.db")
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; NORMAL is durable at commit
    # in WAL mode except on power loss of the OS itself.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_writer_pragmas(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    # the writer runs on the event loop: never checkpoint (fsync) there, never wait long
    # for a lock held by another process (a unit then fails: InternalError, retried)
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.execute("PRAGMA busy_timeout=200")
    cursor.close()


def _sqlite_full_pragmas(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=FULL")  # fsync at every commit (on the DB thread)
    cursor.close()


class Database:
    """``async with Database(url) as db``; ``db.session()`` yields an AsyncSession."""

    def __init__(self, url: str, *, echo: bool = False, sqlite_synchronous: str = "normal") -> None:
        self.url = url
        self._async_url = async_url(url)
        self._echo = echo
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        # SQLite: the writer's transactions run inline on the event loop with the plain
        # sqlite3 driver (see ``transaction``)
        self._sync_engine: Engine | None = None
        # "full": every commit is fsynced before the answer; batches then run on a
        # thread of their own so that the fsync does not stall the event loop
        self._sqlite_full = sqlite_synchronous.lower() == "full"
        self._executor: ThreadPoolExecutor | None = None

    @property
    def is_sqlite(self) -> bool:
        return self._async_url.get_backend_name() == "sqlite"

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise CsmsError("database is not open (use `async with Database(url)`)")
        return self._engine

    async def __aenter__(self) -> Database:
        kwargs: dict[str, Any] = {"echo": self._echo}
        if self.is_sqlite:
            path = self._async_url.database
            if path and path != ":memory:" and not path.startswith("file:"):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self._engine = create_async_engine(self._async_url, **kwargs)
        if self.is_sqlite:
            event.listen(self._engine.sync_engine, "connect", _sqlite_pragmas)
            sync_url = self._async_url.set(drivername="sqlite+pysqlite")
            self._sync_engine = create_engine(sync_url, echo=self._echo)
            pragmas = _sqlite_full_pragmas if self._sqlite_full else _sqlite_writer_pragmas
            event.listen(self._sync_engine, "connect", pragmas)
            if self._sqlite_full:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="csms-sqlite")
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._sync_engine is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._checkpoint, "TRUNCATE")
            self._sync_engine.dispose()
            self._sync_engine = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
            self._sessions = None

    def session(self) -> AsyncSession:
        """An AsyncSession; use as ``async with db.session() as s``."""
        if self._sessions is None:
            raise CsmsError("database is not open (use `async with Database(url)`)")
        return self._sessions()

    async def transaction(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` (synchronous ORM code) in one transaction and commit.

        PostgreSQL: through asyncpg via ``AsyncSession.run_sync``. SQLite: inline on
        the event loop with the sqlite3 driver. A batch is a few hundred microseconds
        of work and, in WAL mode with synchronous=NORMAL, a commit does not wait for
        the disk; the fsync happens in WAL checkpoints, which ``checkpoint_loop`` runs
        on a thread of its own. A thread per batch was slower: every sqlite3 call
        releases the GIL and waits up to the 5 ms switch interval to get it back.
        An exception rolls back and propagates.
        """
        if self._sync_engine is not None:
            engine = self._sync_engine

            def run() -> T:
                with Session(engine, expire_on_commit=False) as session:
                    result = fn(session)
                    session.commit()
                    return result

            if self._executor is not None:
                return await asyncio.get_running_loop().run_in_executor(self._executor, run)
            return run()
        async with self.session() as session:
            result = await session.run_sync(fn)
            await session.commit()
            return result

    def _checkpoint(self, mode: str = "PASSIVE") -> None:
        path = self._async_url.database
        if not path or path == ":memory:":
            return
        with contextlib.closing(sqlite3.connect(path, timeout=1)) as conn:
            conn.execute(f"PRAGMA wal_checkpoint({mode})")

    async def checkpoint_loop(self, interval_s: float = 1.0) -> None:
        """SQLite only: copy the WAL into the database (and fsync) off the event loop."""
        if self._sync_engine is None or self._sqlite_full:
            return  # full: SQLite checkpoints itself on the database thread
        while True:
            await asyncio.sleep(interval_s)
            try:
                await asyncio.to_thread(self._checkpoint)
            except sqlite3.Error as exc:
                log.warning("sqlite checkpoint failed", error=str(exc))

    async def migrate(self, revision: str = "head") -> None:
        """Run Alembic upgrade to ``revision`` over this database's engine."""

        def upgrade(connection: Connection) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)

        try:
            async with self.engine.begin() as conn:
                await conn.run_sync(upgrade)
        except CsmsError:
            raise
        except Exception as exc:
            where = redact_url(self.url)
            # the driver's message may quote the URL (with its password) too
            message = str(exc).replace(self.url, where)
            password = make_url(self.url).password if not self.is_sqlite else None
            if password:
                message = message.replace(str(password), "***")
            raise CsmsError(f"database migration failed ({where}): {message}") from exc
