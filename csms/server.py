"""The websocket endpoint ``/ocpp/<station-id>``: subprotocol choice, security profile 1
(HTTP basic auth) at the handshake, one live connection per station."""

from __future__ import annotations

import asyncio
import http
from typing import Any
from urllib.parse import unquote

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from csms import security
from csms.connection import Connection
from csms.core import Core
from csms.ocpp import protocol, v16, v201
from csms.ocpp.protocol import Version

# a lazy proxy: binding at import time would freeze the logging config of that moment
log = structlog.get_logger("csms.server")
HANDLERS = {"1.6": v16.HANDLERS, "2.0.1": v201.HANDLERS}
PATH_PREFIX = "/ocpp/"


def _offered(headers: Headers) -> list[str]:
    return [
        p.strip()
        for value in headers.get_all("Sec-WebSocket-Protocol")
        for p in value.split(",")
        if p.strip()
    ]


def _station_id(path: str) -> tuple[str | None, str | None]:
    """(station id, None) from ``/ocpp/<id>``; (None, why) when there is none or it is unsafe."""
    path = path.split("?", 1)[0]
    if not path.startswith(PATH_PREFIX):
        return None, None
    raw = path[len(PATH_PREFIX) :].strip("/")
    if not raw or "/" in raw:  # no further path segments
        return None, None
    sid = unquote(raw)
    problem = security.station_id_problem(sid)
    return (None, problem) if problem else (sid, None)


class OcppServer:
    def __init__(self, core: Core):
        self.core = core
        self.server: Server | None = None
        self._connection_tasks: set[asyncio.Task[Any]] = set()

    async def start(self, host: str, port: int) -> int:
        cfg = self.core.settings.server
        await self.core.reconcile_presence()
        self.server = await serve(
            self._handle,
            host,
            port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            max_size=max(cfg.max_frame_bytes, cfg.hard_max_frame_bytes),
            ping_interval=60,
            ping_timeout=60,
            compression=None,  # chargers rarely negotiate it; it costs CPU per frame
        )
        sock = next(iter(self.server.sockets))
        return int(sock.getsockname()[1])

    def _refuse(
        self, conn: ServerConnection, status: http.HTTPStatus, text: str, **kw: Any
    ) -> Response:
        log.warning("handshake refused", status=int(status), reason=text, **kw)
        response = conn.respond(status, text + "\n")
        if status == http.HTTPStatus.UNAUTHORIZED:
            response.headers["WWW-Authenticate"] = 'Basic realm="ocpp", charset="UTF-8"'
        return response

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        sid, problem = _station_id(request.path)
        if problem is not None:
            # never bound to the log as station_id: it may hold control characters
            return self._refuse(conn, http.HTTPStatus.BAD_REQUEST, problem, path=request.path[:80])
        if sid is None:
            return self._refuse(conn, http.HTTPStatus.NOT_FOUND, "use /ocpp/<station-id>")
        offered = _offered(request.headers)
        if offered and not any(p in protocol.SUBPROTOCOLS for p in offered):
            return self._refuse(
                conn,
                http.HTTPStatus.BAD_REQUEST,
                "no supported OCPP subprotocol (ocpp1.6, ocpp2.0.1)",
                station_id=sid,
            )
        if not offered and self.core.settings.server.default_version is None:
            return self._refuse(
                conn,
                http.HTTPStatus.BAD_REQUEST,
                "no OCPP subprotocol offered (ocpp1.6, ocpp2.0.1)",
                station_id=sid,
            )
        return await self._authenticate(conn, request, sid)

    async def _authenticate(
        self, conn: ServerConnection, request: Request, sid: str
    ) -> Response | None:
        row = await self.core.station(sid)
        conn.csms_station_row = row  # type: ignore[attr-defined]  # read again in _handle
        station = row if row is not None and row.registry_status is not None else None
        credentials = security.parse_basic_auth(request.headers.get("Authorization"))
        if station is None:
            if self.core.settings.security.allow_unknown_stations:
                return None
            return self._refuse(conn, http.HTTPStatus.FORBIDDEN, "unknown station", station_id=sid)
        if station.password_hash is None:
            return None  # registered without a password: security profile 0
        if credentials is None or credentials[0] != sid:
            return self._refuse(
                conn, http.HTTPStatus.UNAUTHORIZED, "credentials required", station_id=sid
            )
        ok = await asyncio.to_thread(
            security.verify_password, credentials[1], station.password_hash
        )
        if not ok:
            return self._refuse(
                conn, http.HTTPStatus.UNAUTHORIZED, "wrong credentials", station_id=sid
            )
        return None

    @staticmethod
    def _select_subprotocol(conn: ServerConnection, subprotocols: Any) -> Any:
        for p in subprotocols:
            if p in protocol.SUBPROTOCOLS:
                return p
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        sid, _ = _station_id(ws.request.path if ws.request else "")
        assert sid is not None  # checked in _process_request
        version: Version = (
            protocol.SUBPROTOCOLS[ws.subprotocol]
            if ws.subprotocol
            else self.core.settings.server.default_version or "1.6"
        )
        row = getattr(ws, "csms_station_row", None)
        # reconnect without reboot: Accepted last time, and the registry still agrees
        ready = (
            row is not None
            and row.boot_status == "Accepted"
            and row.registry_status in (None, "Accepted")
        )
        station = row if row is not None and row.registry_status is not None else None
        conn = Connection(self.core, ws, sid, version, HANDLERS[version], ready=ready)
        old = self.core.connections.get(sid)
        self.core.connections[sid] = conn
        if old is not None and not old.closed:
            conn.log.info("new connection replaces the old one")
            old.closed = True
            await old.ws.close(1000, "replaced by a new connection")
        self.core.metrics.connected.labels(version).inc()
        self.core.metrics.station_online(sid, version)
        conn.log.info("connected", registered=station is not None, ready=ready)
        if ready:
            # A station that reconnects without rebooting (the normal case after a network
            # flap or a CSMS restart) sends no BootNotification: its presence flips here.
            # One that has never been Accepted flips at its BootNotification instead.
            await self.core.emit(
                "station_state", self.core.presence(sid, version, online=True, row=row)
            )
        try:
            await conn.run()
        finally:
            self.core.metrics.connected.labels(version).dec()
            if self.core.connections.get(sid) is conn:  # not replaced by a newer connection
                del self.core.connections[sid]
                self.core.metrics.station_offline(sid, version)
                conn.log.info("disconnected", code=ws.close_code)
                await self.core.emit(
                    "station_state", self.core.presence(sid, version, online=False)
                )

    async def close(self) -> None:
        """Stop accepting, let in-flight CALLs finish, close every socket with 1001."""
        if self.server is None:
            return
        self.server.server.close()  # stop listening; open sockets stay up for now
        await asyncio.gather(
            *(c.close(1001, "CSMS shutting down") for c in list(self.core.connections.values())),
            return_exceptions=True,
        )
        # sockets still in their handshake or not yet registered: websockets closes them (1001)
        self.server.close(close_connections=True)
        await self.server.wait_closed()
