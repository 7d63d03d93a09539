"""CsmsApp: the whole central system as one async context manager.

``async with CsmsApp(settings) as app`` migrates the database, starts the commit
writer, the websocket server (``app.port``; port 0 picks one), the metrics
endpoint and the driver HTTP service (``app.http_port``), and enters every enabled
feature (csms.features). Leaving it stops
accepting, lets in-flight messages finish, closes sockets with 1001, commits
what is queued and closes the database.
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AsyncExitStack
from types import TracebackType

import structlog

from csms.audit import DbAuditLog
from csms.config import CsmsSettings
from csms.core import Core
from csms.db.database import Database
from csms.features import FeatureContext, feature_factories
from csms.metrics import Metrics
from csms.ports import StationDirectory
from csms.server import OcppServer
from evcommon.clock import Clock, parse_clock

# a lazy proxy: binding at import time would freeze the logging config of that moment
log = structlog.get_logger("csms.app")


class CsmsApp:
    def __init__(self, settings: CsmsSettings, clock: Clock | None = None):
        self.settings = settings
        self.clock = clock if clock is not None else parse_clock(settings.clock)
        self.database = Database(
            settings.database.url, sqlite_synchronous=settings.database.sqlite_synchronous
        )
        self.metrics = Metrics()
        self.registry: dict[str, object] = {}
        self.port: int = 0
        self.metrics_port: int | None = None
        self.http_port: int | None = None  # the driver API/page; None when [http] port = -1
        self._stack: AsyncExitStack | None = None
        self._core: Core | None = None
        self._server: OcppServer | None = None
        self._writer: asyncio.Task[None] | None = None
        self._checkpoints: asyncio.Task[None] | None = None

    @property
    def core(self) -> Core:
        if self._core is None:
            raise RuntimeError("CsmsApp is not running")
        return self._core

    @property
    def directory(self) -> StationDirectory:
        return self.core

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def __aenter__(self) -> CsmsApp:
        stack = AsyncExitStack()
        try:
            await self._start(stack)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def _start(self, stack: AsyncExitStack) -> None:
        cfg = self.settings
        await stack.enter_async_context(self.database)
        await self.database.migrate()
        tasks = await stack.enter_async_context(asyncio.TaskGroup())
        stack.push_async_callback(self._cancel_tasks)
        self._core = core = Core(cfg, self.clock, self.database, self.metrics, tasks)
        self._writer = tasks.create_task(core.commits.serve(), name="csms-commit-writer")
        self._checkpoints = tasks.create_task(
            self.database.checkpoint_loop(), name="csms-sqlite-checkpoint"
        )
        ctx = FeatureContext(
            settings=cfg,
            directory=core,
            database=self.database,
            clock=self.clock,
            registry=self.registry,
            audit=DbAuditLog(core.commits),
        )
        for factory in feature_factories():
            cm = factory(ctx)
            if cm is not None:
                core.sinks.append(await stack.enter_async_context(cm))
        await self._start_http(stack)
        if cfg.server.metrics_port >= 0:
            self.metrics.serve(cfg.server.metrics_host, cfg.server.metrics_port)
            stack.callback(self.metrics.close)
            self.metrics_port = self.metrics.port
        self._server = OcppServer(core)
        self.port = await self._server.start(cfg.server.host, cfg.server.port)
        stack.push_async_callback(self._stop_server)
        log.info(
            "csms listening", host=cfg.server.host, port=self.port, metrics_port=self.metrics_port
        )

    async def _start_http(self, stack: AsyncExitStack) -> None:
        cfg = self.settings
        service = self.registry.get("requests")
        if cfg.http.port < 0 or service is None:
            return
        from csms.http.api import create_app
        from csms.http.server import HttpServer
        from csms.requests.feature import default_link_base

        server = HttpServer(create_app(service))  # type: ignore[arg-type]
        self.http_port = await server.start(cfg.http.host, cfg.http.port)
        stack.push_async_callback(server.close)
        service.link_base = default_link_base(cfg, self.http_port)  # type: ignore[attr-defined]

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    async def _stop_server(self) -> None:
        if self._server is not None:
            await self._server.close()
        # everything acknowledged is committed already; commit what was still queued
        await self.core.commits.drain()

    async def _cancel_tasks(self) -> None:
        if self._core is not None:
            for supervised in list(self._core.supervised):
                supervised.cancel()
        for task in (self._writer, self._checkpoints):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.__aexit__(exc_type, exc, tb)
        log.info("csms stopped")
