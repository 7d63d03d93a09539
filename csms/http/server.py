"""uvicorn inside the CSMS's event loop: bound by us (port 0 works, errors are ours, not a
``sys.exit``), no signal handlers of its own, no access log (paths carry driver tokens)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

from csms.errors import CsmsError
from evcommon.logs import get_logger

log = get_logger(__name__)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the CSMS handles signals itself


class HttpServer:
    """``port = await server.start(host, port)`` ... ``await server.close()``."""

    def __init__(self, app: Any):
        self.app = app
        self.port: int | None = None
        self._server: _Server | None = None
        self._sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> int:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise CsmsError(f"http: cannot listen on {host}:{port}: {exc}") from exc
        sock.set_inheritable(True)
        config = uvicorn.Config(
            self.app, lifespan="off", log_config=None, access_log=False, server_header=False
        )
        config.load()
        server = _Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        self._server, self._sock = server, sock
        self._task = asyncio.create_task(server.main_loop(), name="http-server")
        self.port = int(sock.getsockname()[1])
        return self.port

    async def close(self) -> None:
        server, task = self._server, self._task
        if server is None or task is None:
            return
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await server.shutdown(sockets=[self._sock] if self._sock else None)
        if self._sock is not None:
            self._sock.close()
        self._server = self._task = self._sock = None
