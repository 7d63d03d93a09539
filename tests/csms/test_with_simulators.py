"""Integration: the charge-point simulators (both versions) against the CSMS on port 0."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from csms.app import CsmsApp
from csms.db.models import MeterValue, Transaction
from evcommon.clock import SimClock
from tests.csms.sink import RecordingSink
from tests.plugins.csms import MakeCsms

sim = pytest.importorskip("simulators.chargepoint.station")
from simulators.chargepoint.config import StationConfig  # noqa: E402
from simulators.chargepoint.testing import ConstantEv  # noqa: E402


async def _until(predicate: object, timeout_s: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def _stored(app: CsmsApp, station_id: str) -> tuple[int, list[Transaction]]:
    async with app.database.session() as s:
        n = (
            await s.execute(
                select(func.count())
                .select_from(MeterValue)
                .where(MeterValue.station_id == station_id)
            )
        ).scalar_one()
        txs = (
            (await s.execute(select(Transaction).where(Transaction.station_id == station_id)))
            .scalars()
            .all()
        )
    return int(n), list(txs)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_charging_session_end_to_end(make_csms: MakeCsms, version: str) -> None:
    clock = SimClock(datetime(2026, 7, 1, 20, tzinfo=UTC), speed=600)
    app = await make_csms(clock=clock, security={"accept_all_id_tags": True})
    sink = RecordingSink()
    app.core.sinks.append(sink)
    cfg = StationConfig(station_id=f"SIM-{version}", ocpp_version=version, meter_interval_s=60)
    async with sim.SimStation(cfg, app.url, clock) as station:
        await station.wait_accepted()
        await sink.wait_for("booted")
        assert await station.plug_in(1, ConstantEv(max_kw=5.0))
        await sink.wait_for("meter_values", 3)
        await station.stop_charging(1, "Local" if version == "1.6" else "StoppedByEV")
        await station.flush()
        await station.reboot()
        await sink.wait_for("booted", 2)
    count, txs = await _stored(app, cfg.station_id)
    assert count >= 3
    (tx,) = txs
    assert tx.ended_at is not None and not tx.unknown_start
    assert tx.meter_stop_wh is not None and tx.meter_start_wh is not None
    assert tx.meter_stop_wh > tx.meter_start_wh
    powers = [m.power_kw for m in sink.of("meter_values") if m.power_kw]
    assert powers and max(powers) == pytest.approx(5.0, rel=0.05)


async def test_reconnect_after_network_flap(make_csms: MakeCsms) -> None:
    clock = SimClock(datetime(2026, 7, 1, 20, tzinfo=UTC), speed=600)
    app = await make_csms(clock=clock)
    cfg = StationConfig(
        station_id="SIM-flap", ocpp_version="1.6", reconnect_min_s=0.05, reconnect_max_s=0.2
    )
    async with sim.SimStation(cfg, app.url, clock) as station:
        await station.wait_accepted()
        first = app.core.connections["SIM-flap"]
        await station.drop_connection()
        await _until(lambda: app.core.connections.get("SIM-flap") not in (None, first))
        await station.wait_online()
        assert app.directory.session("SIM-flap") is not None
