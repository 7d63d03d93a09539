"""Executing contract commands: parse, check, dispatch, and exactly one reply each.

Never raises: every outcome, including a payload that is not JSON, becomes a
:class:`~evcommon.contract.CommandReply` (error codes: invalid_command naming the
field, unknown_station at once, station_offline at once, rejected with the
station's reason, timeout, not_supported, internal).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from csms.audit import AuditEntry, AuditLog
from csms.errors import CallTimeout, CsmsError, OcppCallError, StationNotReady, StationOffline
from csms.ports import StationDirectory
from csms.smart.errors import SmartChargingError
from evcommon import contract
from evcommon.clock import Clock
from evcommon.errors import ContractError
from evcommon.logs import get_logger

log = get_logger(__name__)


class CommandRejected(CsmsError):
    """The station answered with a status other than Accepted."""

    code: contract.ErrorCode = "rejected"


Handler = Callable[[Any], Awaitable[dict[str, Any]]]


def peek(raw: bytes) -> tuple[str, str | None]:
    """Best effort (correlation_id, reply_to) of a payload that may not parse."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "", None
    if not isinstance(data, dict):
        return "", None
    cid, reply_to = data.get("correlation_id"), data.get("reply_to")
    return (
        cid if isinstance(cid, str) else "",
        reply_to if isinstance(reply_to, str) else None,
    )


def command_name(raw: bytes) -> str:
    """The command field for metrics; ``invalid`` when there is none."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "invalid"
    name = data.get("command") if isinstance(data, dict) else None
    known = {
        "set_limit",
        "clear_limit",
        "install_safe_limits",
        "get_composite_schedule",
        "remote_start",
        "remote_stop",
        "reset",
        "change_availability",
        "trigger_message",
    }
    return name if name in known else "invalid"


def audit_entry(
    raw: bytes, topic_station_id: str | None, reply: contract.CommandReply
) -> AuditEntry:
    """What the audit log keeps of one command: who, what, where, the scalar arguments
    (a schedule is summarised by its length), the result."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    data = data if isinstance(data, dict) else {}
    actor = data.get("issued_by")
    station = data.get("station_id")
    skip = {"command", "correlation_id", "station_id", "issued_by", "reply_to"}
    detail: dict[str, Any] = {
        k: v
        for k, v in data.items()
        if k not in skip and (v is None or isinstance(v, str | int | float | bool))
    }
    if isinstance(data.get("schedule"), list):
        detail["schedule_periods"] = len(data["schedule"])
    return AuditEntry(
        at=reply.ts,
        actor=actor if isinstance(actor, str) and actor else "(unknown)",
        via="mqtt",
        action=command_name(raw),
        result="ok" if reply.ok else (reply.error.code if reply.error else "error"),
        station_id=station if isinstance(station, str) else topic_station_id,
        correlation_id=reply.correlation_id or None,
        detail=detail,
    )


class CommandExecutor:
    def __init__(
        self,
        directory: StationDirectory,
        handlers: dict[str, Handler],
        *,
        timeout_s: float,
        clock: Clock | None = None,
        audit: AuditLog | None = None,
    ):
        self.directory = directory
        self.handlers = handlers
        self.timeout_s = timeout_s
        self.clock = clock
        self.audit = audit

    async def execute(self, raw: bytes, topic_station_id: str | None) -> contract.CommandReply:
        reply = await self._execute(raw, topic_station_id)
        if self.clock is not None:
            reply.ts = self.clock.now()
        if self.audit is not None:
            self.audit.record(audit_entry(raw, topic_station_id, reply))
        return reply

    async def _execute(self, raw: bytes, topic_station_id: str | None) -> contract.CommandReply:
        cid, _ = peek(raw)
        try:
            cmd = contract.parse_command(raw)
        except ContractError as exc:
            return contract.CommandReply.failure(cid, "invalid_command", str(exc) or "invalid")
        except ValueError as exc:  # not UTF-8 / not JSON at all
            return contract.CommandReply.failure(cid, "invalid_command", f"payload: {exc}")
        cid = cmd.correlation_id
        if topic_station_id is not None and cmd.station_id != topic_station_id:
            return contract.CommandReply.failure(
                cid,
                "invalid_command",
                f"station_id: {cmd.station_id!r} does not match the topic's {topic_station_id!r}",
            )
        if not await self.directory.is_registered(cmd.station_id):
            return contract.CommandReply.failure(
                cid, "unknown_station", f"station {cmd.station_id!r} is not known to the CSMS"
            )
        if self.directory.session(cmd.station_id) is None:
            return contract.CommandReply.failure(
                cid, "station_offline", f"station {cmd.station_id!r} is not connected"
            )
        handler = self.handlers.get(cmd.command)
        if handler is None:
            return contract.CommandReply.failure(
                cid, "not_supported", f"command: {cmd.command!r} is not enabled on this CSMS"
            )
        return await self._run(cid, cmd, handler)

    async def _run(self, cid: str, cmd: Any, handler: Handler) -> contract.CommandReply:
        try:
            async with asyncio.timeout(self.timeout_s):
                data = await handler(cmd)
        except (SmartChargingError, CommandRejected) as exc:
            data_err = getattr(exc, "attempts", None)
            reply = contract.CommandReply.failure(cid, exc.code, str(exc))
            if data_err:
                reply.data = {"attempts": data_err}
            return reply
        except (StationOffline, StationNotReady) as exc:
            return contract.CommandReply.failure(cid, "station_offline", str(exc))
        except (CallTimeout, TimeoutError) as exc:
            message = str(exc) or f"no result within {self.timeout_s:g} s"
            return contract.CommandReply.failure(cid, "timeout", message)
        except OcppCallError as exc:
            code: contract.ErrorCode = (
                "not_supported" if exc.code in ("NotImplemented", "NotSupported") else "rejected"
            )
            return contract.CommandReply.failure(cid, code, f"station answered CALLERROR {exc}")
        except ContractError as exc:
            return contract.CommandReply.failure(cid, "invalid_command", str(exc))
        except Exception as exc:
            log.exception("command failed", command=cmd.command, station_id=cmd.station_id)
            return contract.CommandReply.failure(cid, "internal", f"{type(exc).__name__}: {exc}")
        return contract.CommandReply.success(cid, data)
