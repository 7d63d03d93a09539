"""Component tests (issue 18): a TxProfile ends with its transaction, and composite
schedules that report "no limit" as -1 are not read as limits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from csms.smart.monitor import effective_limit
from csms.smart.service import SmartCharging
from csms.smart.store import ProfileStore
from evcommon import contract
from evcommon.clock import SimClock
from simulators.chargepoint.config import Quirks, StationConfig
from simulators.chargepoint.station import SimStation
from simulators.chargepoint.testing import ConstantEv
from tests.smart.test_quirks import SPEED, csms, limit, one_station


def running(svc: SmartCharging, st: SimStation) -> str | None:
    """The transaction on connector 1 once both sides know its id."""
    tx = st.transaction_id(1)
    return tx if tx is not None and svc.transaction_of("Q1", 1) == tx else None


async def until(clock: SimClock, done: Callable[[], object]) -> None:
    async with asyncio.timeout(5):
        while not done():
            await clock.sleep(5)


async def test_tx_profile_is_dropped_when_its_transaction_ends(sqlite_url) -> None:
    clock = SimClock(datetime(2026, 7, 1, 8, tzinfo=UTC), speed=SPEED)
    cfg = StationConfig(station_id="Q1", ocpp_version="1.6", preset="L2", meter_interval_s=60)
    async with (
        csms(sqlite_url, clock, over_limit_grace_s=30) as app,
        SimStation(cfg, app.url, clock) as st,
    ):
        await st.wait_accepted()
        svc = app.registry["smart"]
        assert isinstance(svc, SmartCharging)
        events: list[Any] = []
        svc.subscribe(events.append)

        assert await st.plug_in(1, ConstantEv(max_kw=7.2))
        await until(clock, lambda: running(svc, st))
        first = running(svc, st)
        out = await svc.set_limit(limit(clock, purpose="tx"))
        assert out["purpose"] == "tx"
        assert [r.purpose for r in svc.store.records("Q1")] == ["tx"]

        await st.unplug(1)  # transaction N ends: the station drops the TxProfile
        await st.flush()
        await until(clock, lambda: svc.store.records("Q1") == [])
        assert await st.plug_in(1, ConstantEv(max_kw=7.2))  # N+1 on the same connector
        await until(clock, lambda: running(svc, st) not in (None, first))
        second = running(svc, st)
        assert st.limit_kw(1) == pytest.approx(6.6)  # unlimited again

        assert effective_limit(svc.store.records("Q1"), 1, clock.now(), second) is None
        fresh = ProfileStore(app.database)  # what a restarted CSMS would load
        await fresh.load()
        assert fresh.records("Q1") == []
        for _ in range(3):  # meter values of the new session at full power
            await clock.sleep(60)
        assert not [e for e in events if isinstance(e, contract.Alarm)]


def test_tx_profile_of_another_transaction_is_ignored() -> None:
    from tests.smart.test_monitor_outbox import T0, rec

    default = rec(1, 1, "tx_default", 4.0)
    old = rec(2, 1, "tx", 2.0, transaction_id="N")
    assert effective_limit([default, old], 1, T0, "N") == (2.0, old)
    assert effective_limit([default, old], 1, T0, "N+1") == (4.0, default)
    assert effective_limit([default, old], 1, T0, None) == (4.0, default)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_negative_no_limit_composite_is_unavailable(sqlite_url, version) -> None:
    quirks = Quirks(composite_no_limit_negative=True)
    async with one_station(sqlite_url, version, quirks) as (svc, _st, _events, clock):
        out = await svc.set_limit(limit(clock))
        verification = out["verification"]
        assert verification["status"] == "unavailable"
        assert "composite_kw" not in verification
        comp = await svc.get_composite_schedule(
            contract.GetCompositeSchedule(
                correlation_id="g", station_id="Q1", connector_id=1, duration_s=600
            )
        )
        assert comp["periods"]
        for period in comp["periods"]:
            assert period["limit"] is None and period["limit_kw"] is None
            assert "number_phases" not in period
