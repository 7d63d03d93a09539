"""Every contract command is audited: who issued it, what, where, and the result."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from csms.db.models import AuditRecord
from tests.smart.test_e2e_mqtt import set_limit, site

pytestmark = pytest.mark.mqtt


async def _audit(app: Any, count: int) -> list[AuditRecord]:
    async with asyncio.timeout(5):
        while True:
            async with app.database.session() as s:
                rows = list(
                    (await s.execute(select(AuditRecord).order_by(AuditRecord.id))).scalars()
                )
            if len(rows) >= count:
                return rows
            await asyncio.sleep(0.05)  # the audit write is batched with the station traffic


async def test_commands_are_audited_with_their_issuer(mqtt_broker: Any, sqlite_url: str) -> None:
    async with site(mqtt_broker, sqlite_url, "1.6") as (app, _station, probe, clock):
        ok = await probe.command("CP1", set_limit(clock, issued_by="edge-garage"))
        assert ok.ok, ok.error
        bad = await probe.command("CP1", {"command": "set_limit", "correlation_id": "x"})
        assert not bad.ok
        anonymous = await probe.command("CP1", set_limit(clock, correlation_id="c-2"))
        assert anonymous.ok
        rows = await _audit(app, 3)
    first, second, third = rows[:3]
    assert (first.actor, first.via, first.action, first.result) == (
        "edge-garage",
        "mqtt",
        "set_limit",
        "ok",
    )
    assert first.station_id == "CP1" and first.correlation_id == "c-1"
    assert first.detail["limit_kw"] == 3.3 and first.detail["connector_id"] == 1
    assert (second.actor, second.result, second.station_id) == (
        "(unknown)",
        "invalid_command",
        "CP1",
    )
    assert third.actor == "(unknown)" and third.result == "ok"
