"""Command name -> coroutine executing it: smart-charging commands go to
``registry["smart"]``, the others to the core's version-neutral csms.commands."""

from __future__ import annotations

from typing import Any

from csms import commands
from csms.bridge.commands import CommandRejected, Handler
from csms.errors import StationOffline
from csms.features import FeatureContext
from csms.ports import StationDirectory, StationSession
from evcommon import contract

OK_STATUSES = ("Accepted", "Scheduled")


def _session(directory: StationDirectory, station_id: str) -> StationSession:
    session = directory.session(station_id)
    if session is None:
        raise StationOffline(station_id)
    return session


def _accepted(status: str, what: str) -> dict[str, Any]:
    """The station's status as reply data; anything but Accepted/Scheduled is a
    ``rejected`` error carrying the station's answer."""
    if status in OK_STATUSES:
        return {"status": status}
    raise CommandRejected(f"{what}: station answered {status}")


def build_handlers(ctx: FeatureContext) -> dict[str, Handler]:
    handlers: dict[str, Handler] = {}
    smart = ctx.registry.get("smart")
    if smart is not None:
        handlers["set_limit"] = smart.set_limit  # type: ignore[attr-defined]
        handlers["clear_limit"] = smart.clear_limit  # type: ignore[attr-defined]
        handlers["install_safe_limits"] = smart.install_safe_limits  # type: ignore[attr-defined]
        handlers["get_composite_schedule"] = smart.get_composite_schedule  # type: ignore[attr-defined]
    directory = ctx.directory

    async def remote_start(cmd: contract.RemoteStart) -> dict[str, Any]:
        session = _session(directory, cmd.station_id)
        status = await commands.remote_start(
            session, id_token=cmd.id_token, connector_id=cmd.connector_id
        )
        return _accepted(status, "remote start")

    async def remote_stop(cmd: contract.RemoteStop) -> dict[str, Any]:
        session = _session(directory, cmd.station_id)
        status = await commands.remote_stop(session, transaction_id=cmd.transaction_id)
        return _accepted(status, "remote stop")

    async def reset(cmd: contract.Reset) -> dict[str, Any]:
        session = _session(directory, cmd.station_id)
        return _accepted(await commands.reset(session, kind=cmd.kind), "reset")

    async def change_availability(cmd: contract.ChangeAvailability) -> dict[str, Any]:
        session = _session(directory, cmd.station_id)
        status = await commands.change_availability(
            session, connector_id=cmd.connector_id, available=cmd.available
        )
        return _accepted(status, "change availability")

    async def trigger_message(cmd: contract.TriggerMessage) -> dict[str, Any]:
        session = _session(directory, cmd.station_id)
        status = await commands.trigger_message(
            session, message=cmd.message, connector_id=cmd.connector_id
        )
        return _accepted(status, "trigger message")

    handlers.update(
        remote_start=remote_start,
        remote_stop=remote_stop,
        reset=reset,
        change_availability=change_availability,
        trigger_message=trigger_message,
    )
    return handlers
