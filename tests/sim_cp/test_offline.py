"""Reconnect with backoff; transaction messages queued offline arrive in order, none lost."""

from __future__ import annotations

import asyncio

import pytest

from evcommon.clock import ManualClock
from simulators.chargepoint import ConstantEv
from tests.plugins.infra import free_port
from tests.plugins.sim_cp import MiniCsms
from tests.sim_cp.conftest import MakeStation


async def test_v16_offline_queue_in_order_with_original_timestamps(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock
) -> None:
    st = await make_station(mini_csms.url, ocpp_version="1.6", meter_interval_s=60)
    await st.plug_in(1, ConstantEv(max_kw=7.2))
    await st.flush()
    await st.go_offline()
    assert not st.online
    for _ in range(5):
        await clock.advance(60)
    await st.stop_charging(1)
    await st.unplug(1)
    # a whole transaction while offline: authorized locally, no transaction id yet
    assert await st.plug_in(1, ConstantEv(max_kw=7.2, id_token="TAG-2"))
    await clock.advance(60)
    await st.stop_charging(1)
    queued = [m.action for m in st.queue.pending()]
    assert queued == ["MeterValues"] * 5 + [
        "StopTransaction",
        "StartTransaction",
        "MeterValues",
        "StopTransaction",
    ]
    offline_from = len(mini_csms.received)
    st.go_online()
    await st.flush()
    late = [
        r
        for r in mini_csms.received[offline_from:]
        if r.action in ("MeterValues", "StartTransaction", "StopTransaction")
    ]
    assert [r.action for r in late] == queued  # same order, nothing lost
    assert all(r.connection == 2 for r in late)
    stamps = [r.payload["meterValue"][0]["timestamp"] for r in late[:5]]
    assert stamps == [
        f"2026-07-01T00:0{m}:00Z" for m in range(1, 6)
    ]  # when measured, not when sent
    assert late[5].payload["timestamp"] == "2026-07-01T00:05:00Z"
    # the offline transaction got its id on delivery, and its messages carry it
    assert [r.payload["transactionId"] for r in late[:6]] == [100] * 6
    assert late[7].payload["transactionId"] == 101 and late[8].payload["transactionId"] == 101
    energies = [float(r.payload["meterValue"][0]["sampledValue"][0]["value"]) for r in late[:5]]
    assert energies == sorted(energies) and energies[-1] == pytest.approx(550.0)
    assert st.queue.dropped == 0


async def test_v201_offline_events_flagged_and_seq_contiguous(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock
) -> None:
    st = await make_station(mini_csms.url, ocpp_version="2.0.1", meter_interval_s=60)
    await st.plug_in(1, ConstantEv(max_kw=7.2))
    await clock.advance(60)
    await st.flush()
    await st.go_offline()
    for _ in range(3):
        await clock.advance(60)
    await st.stop_charging(1)
    st.go_online()
    await st.flush()
    events = [r.payload for r in mini_csms.of("TransactionEvent")]
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert [e["eventType"] for e in events] == ["Started"] + ["Updated"] * 4 + ["Ended"]
    assert [bool(e.get("offline")) for e in events] == [False, False, True, True, True, True]
    assert events[-1]["timestamp"] == "2026-07-01T00:04:00Z"


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_network_flaps_lose_nothing(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock, version: str
) -> None:
    st = await make_station(mini_csms.url, ocpp_version=version, meter_interval_s=10)
    await st.plug_in(1, ConstantEv(max_kw=7.2))
    for i in range(12):
        await clock.advance(10)
        if i % 3 == 0:
            await st.drop_connection()  # abort; the station reconnects by itself
        if i % 4 == 1:
            await st.wait_online()
            await mini_csms.drop("CP-1")  # the server side drops it
    await st.stop_charging(1)
    await st.flush()
    if version == "1.6":
        meters = [r.payload["meterValue"][0]["timestamp"] for r in mini_csms.of("MeterValues")]
        # resends after a lost answer are allowed, gaps and reordering are not
        unique = list(dict.fromkeys(meters))
        assert unique == sorted(unique) and len(unique) == 12
        assert len(mini_csms.of("StopTransaction")) >= 1
    else:
        seqs = list(dict.fromkeys(r.payload["seqNo"] for r in mini_csms.of("TransactionEvent")))
        assert seqs == list(range(len(seqs)))
        assert mini_csms.of("TransactionEvent")[-1].payload["eventType"] == "Ended"
    assert mini_csms._conn_count["CP-1"] >= 4
    assert st.boot_count == 1  # as real firmware: one boot per power cycle, not per connection


async def test_boot_on_reconnect_quirk_boots_on_every_connection(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock
) -> None:
    st = await make_station(mini_csms.url, boot_on_reconnect=True)
    for _ in range(3):
        await st.drop_connection()
        await st.wait_online()
    await mini_csms.drop("CP-1")
    await st.wait_online()
    assert mini_csms._conn_count["CP-1"] >= 4
    assert st.boot_count == mini_csms._conn_count["CP-1"]


async def test_connects_with_backoff_once_the_csms_appears(make_station: MakeStation) -> None:
    port = free_port()
    csms = MiniCsms(port=port)
    st = await make_station(f"ws://127.0.0.1:{port}/ocpp", ocpp_version="2.0.1", wait=False)
    with pytest.raises(TimeoutError):
        await st.wait_accepted(timeout_s=0.3)
    await csms.start()
    try:
        await st.wait_accepted(timeout_s=5)
        assert csms.of("BootNotification")[0].payload["reason"] == "PowerUp"
    finally:
        await csms.stop()


async def test_boot_pending_then_accepted(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock
) -> None:
    mini_csms.boot_status = "Pending"
    mini_csms.heartbeat_interval_s = 30
    st = await make_station(mini_csms.url, ocpp_version="1.6", wait=False)
    await mini_csms.wait_action("BootNotification")
    mini_csms.boot_status = "Accepted"
    for _ in range(100):  # the station waits the interval (simulated) before booting again
        await clock.advance(30)
        if st.online:
            break
        await asyncio.sleep(0.01)
    await st.wait_accepted(timeout_s=5)
    assert len(mini_csms.of("BootNotification")) == 2
    assert mini_csms.actions()[:3] == ["BootNotification", "BootNotification", "StatusNotification"]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_internal_errors_are_retried_in_order(
    mini_csms: MiniCsms, make_station: MakeStation, clock: ManualClock, version: str
) -> None:
    st = await make_station(
        mini_csms.url,
        ocpp_version=version,
        meter_interval_s=60,
        transaction_message_retry_interval_s=0.02,
    )
    action = "MeterValues" if version == "1.6" else "TransactionEvent"
    await st.plug_in(1, ConstantEv())
    await st.flush()
    mini_csms.refuse_times[action] = 3  # the CSMS database is busy for a while
    for _ in range(3):
        await clock.advance(60)
    await st.stop_charging(1)
    await st.flush()
    assert st.queue.dropped == 0
    if version == "1.6":
        stamps = [r.payload["meterValue"][0]["timestamp"] for r in mini_csms.of("MeterValues")]
        assert stamps == ["2026-07-01T00:01:00Z", "2026-07-01T00:02:00Z", "2026-07-01T00:03:00Z"]
        assert [a for a in mini_csms.actions() if "Transaction" in a or a == "MeterValues"][
            -1
        ] == "StopTransaction"
    else:
        seqs = [r.payload["seqNo"] for r in mini_csms.of("TransactionEvent")]
        assert seqs == list(range(len(seqs))) and len(seqs) == 5
