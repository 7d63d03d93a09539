"""Component tests: an over-limit episode is kept in the database, so a CSMS restart in
the middle of it raises no second alarm (real OCPP frames, real database, SimStation)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from csms.app import CsmsApp
from csms.config import CsmsSettings
from csms.db.database import Database
from csms.smart.models import OverLimitEpisode
from csms.smart.service import SmartCharging
from evcommon import contract
from evcommon.clock import SimClock
from simulators.chargepoint.config import Quirks, StationConfig
from simulators.chargepoint.station import SimStation
from simulators.chargepoint.testing import ConstantEv


def _settings(db_url: str) -> CsmsSettings:
    return CsmsSettings(
        server={"host": "127.0.0.1", "port": 0, "metrics_port": -1},
        database={"url": db_url},
        security={"accept_all_id_tags": True},
        smart_charging={"over_limit_grace_s": 30},
    )


def _smart(app: CsmsApp) -> tuple[SmartCharging, list[Any]]:
    svc = app.registry["smart"]
    assert isinstance(svc, SmartCharging)
    events: list[Any] = []
    svc.subscribe(events.append)
    return svc, events


def _alarms(events: list[Any]) -> list[contract.Alarm]:
    return [e for e in events if isinstance(e, contract.Alarm) and e.kind == "over_limit"]


async def _episodes(db_url: str) -> list[OverLimitEpisode]:
    async with Database(db_url) as db, db.session() as s:
        return list((await s.execute(select(OverLimitEpisode))).scalars().all())


async def test_one_episode_one_alarm_across_a_csms_restart(database_url: str) -> None:
    clock = SimClock(datetime(2026, 7, 1, 8, tzinfo=UTC), speed=120.0)
    cfg = StationConfig(
        station_id="Q1",
        ocpp_version="1.6",
        preset="L2",
        meter_interval_s=60,
        quirks=Quirks(ignores_limits=True),
    )
    async with CsmsApp(_settings(database_url), clock) as app:
        svc, events = _smart(app)
        station = SimStation(cfg, app.url, clock)
        await station.__aenter__()
        try:
            await station.wait_accepted()
            assert await station.plug_in(1, ConstantEv(max_kw=7.2))
            await svc.set_limit(
                contract.SetLimit(
                    correlation_id="q",
                    station_id="Q1",
                    connector_id=1,
                    limit_kw=3.3,
                    valid_to=clock.now() + timedelta(hours=6),
                )
            )
            async with asyncio.timeout(5):
                while not _alarms(events):
                    await clock.sleep(30)
        except BaseException:
            await station.__aexit__(None, None, None)
            raise
    try:
        (row,) = await _episodes(database_url)
        assert row.ended_at is None and row.limit_kw == pytest.approx(3.3)
        # a new CSMS process on the same database; the station reconnects without a reboot
        # and keeps drawing over its limit
        async with CsmsApp(_settings(database_url), clock) as app:
            svc, events = _smart(app)
            station.url = f"{app.url}/Q1"
            async with asyncio.timeout(10):
                while svc.transaction_of("Q1", 1) is None:
                    await clock.sleep(30)  # meter values of the running transaction
            for _ in range(4):
                await clock.sleep(60)
            assert _alarms(events) == []
            # once the limit is gone the next reading ends the episode, in the database too
            await svc.clear_limit(contract.ClearLimit(correlation_id="c", station_id="Q1"))
            async with asyncio.timeout(10):
                while (await _episodes(database_url))[0].ended_at is None:
                    await clock.sleep(30)
            assert _alarms(events) == []
        (row,) = await _episodes(database_url)
        assert row.end_reason == "within_limit"
    finally:
        await station.__aexit__(None, None, None)
