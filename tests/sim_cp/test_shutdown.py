"""A station that shuts down ends its transactions and delivers its queue before closing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from csms.db.models import Transaction
from evcommon.clock import ManualClock
from simulators.chargepoint import ConstantEv, SimStation, StationConfig
from tests.plugins.csms import MakeCsms
from tests.plugins.sim_cp import MiniCsms


def _config(version: str, **extra: object) -> StationConfig:
    return StationConfig.model_validate(
        {
            "station_id": f"SHUT-{version}",
            "ocpp_version": version,
            "connectors": 2,
            "meter_interval_s": 60,
            "reconnect_min_s": 0.05,
            "reconnect_max_s": 0.2,
            **extra,
        }
    )


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_closing_with_active_transactions_delivers_every_stop(
    make_csms: MakeCsms, version: str
) -> None:
    clock = ManualClock(datetime(2026, 7, 1, tzinfo=UTC))
    app = await make_csms(security={"accept_all_id_tags": True})
    async with SimStation(_config(version), app.url, clock, seed=1) as st:
        await st.wait_accepted()
        assert await st.plug_in(1, ConstantEv(max_kw=7.2))
        assert await st.plug_in(2, ConstantEv(max_kw=3.6))
        await clock.advance(150)  # two periodic samples each, queued right now
        conn = st.conn
        assert conn is not None
        # leave at once: nothing was flushed, the transactions are still running
    assert st.delivery() == {"delivered": st.queue.delivered, "dropped": 0, "undelivered": 0}
    assert st.undelivered == []
    assert conn.ws.close_code == 1001  # a closing handshake ("going away"), not a dropped socket
    async with app.database.session() as s:
        txs = list((await s.execute(select(Transaction))).scalars())
    assert len(txs) == 2
    by_connector = {t.connector_id: t for t in txs}
    for connector_id, kw in ((1, 6.6), (2, 3.6)):  # L2 preset: 6.6 kW hardware limit
        tx = by_connector[connector_id]
        assert tx.ended_at is not None
        assert tx.stop_reason == "Other"
        assert tx.meter_stop_wh == pytest.approx(kw * 150 / 3600 * 1000, abs=1)


async def test_offline_at_shutdown_reports_what_is_undelivered(mini_csms: MiniCsms) -> None:
    clock = ManualClock(datetime(2026, 7, 1, tzinfo=UTC))
    async with SimStation(_config("1.6"), mini_csms.url, clock, seed=1) as st:
        await st.wait_accepted()
        assert await st.plug_in(1, ConstantEv(max_kw=7.2))
        await st.flush()
        await st.go_offline()
        await clock.advance(60)
    # the network was down: nothing could be delivered, and nothing was waited for
    assert [m.action for m in st.undelivered] == ["MeterValues", "StopTransaction"]
    assert st.delivery()["undelivered"] == 2
    assert st.delivery()["dropped"] == 0


async def test_drain_timeout_bounds_the_wait(mini_csms: MiniCsms) -> None:
    clock = ManualClock(datetime(2026, 7, 1, tzinfo=UTC))
    mini_csms.refuse_actions.add("StopTransaction")  # InternalError, retried slowly
    cfg = _config("1.6", drain_timeout_s=0.3, transaction_message_retry_interval_s=10.0)
    async with SimStation(cfg, mini_csms.url, clock, seed=1) as st:
        await st.wait_accepted()
        assert await st.plug_in(1, ConstantEv(max_kw=7.2))
        await st.flush()
        undelivered = await st.shutdown(stop_reason="Local")
    assert [m.action for m in undelivered] == ["StopTransaction"]
    assert st.delivery()["undelivered"] == 1
    assert undelivered[0].payload["reason"] == "Local"


async def test_transaction_message_attempts_counted_as_dropped(mini_csms: MiniCsms) -> None:
    clock = ManualClock(datetime(2026, 7, 1, tzinfo=UTC))
    mini_csms.refuse_actions.add("StopTransaction")
    cfg = _config("1.6", transaction_message_attempts=3, transaction_message_retry_interval_s=0.01)
    async with SimStation(cfg, mini_csms.url, clock, seed=1) as st:
        await st.wait_accepted()
        assert await st.plug_in(1, ConstantEv(max_kw=7.2))
        await st.stop_charging(1)
        await st.flush()
    assert mini_csms.of("StopTransaction") == []  # refused three times, then given up
    assert st.delivery()["dropped"] == 1
    assert st.delivery()["undelivered"] == 0
