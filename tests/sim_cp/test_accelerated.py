"""A station on an accelerated SimClock: meter cadence and energy follow simulated time."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import pytest

from evcommon.clock import SimClock
from simulators.chargepoint import ConstantEv, SimStation, StationConfig
from simulators.profiles import parse_time
from tests.plugins.sim_cp import MiniCsms


def ts(text: str) -> datetime:
    parsed = parse_time(text)
    assert parsed is not None
    return parsed


async def test_ten_simulated_minutes_in_half_a_second(mini_csms: MiniCsms) -> None:
    clock = SimClock(datetime(2026, 7, 1, 18, tzinfo=UTC), speed=1200)
    cfg = StationConfig(station_id="CP-1", ocpp_version="2.0.1", meter_interval_s=60)
    async with SimStation(cfg, mini_csms.url, clock) as st:
        await st.wait_accepted()
        start = clock.now()
        await st.plug_in(1, ConstantEv(max_kw=7.2))
        await asyncio.sleep(0.5)
        await st.go_offline()  # half-way through, the network goes
        await asyncio.sleep(0.25)
        st.go_online()
        await st.wait_online()
        await st.stop_charging(1)
        end = clock.now()
        await st.flush()
    # a resend after the connection dropped mid-call is allowed: keep the first of each seqNo
    events = list(
        {r.payload["seqNo"]: r.payload for r in reversed(mini_csms.of("TransactionEvent"))}.values()
    )[::-1]
    periodic = [e for e in events if e["triggerReason"] == "MeterValuePeriodic"]
    stamps = [ts(e["timestamp"]) for e in events]
    assert end - start >= stamps[-1] - stamps[0]
    charged_min = (stamps[-1] - stamps[0]).total_seconds() / 60
    # one per simulated minute; fewer only if a busy machine starves the event loop (a
    # station that falls behind an accelerated clock skips ticks instead of bursting)
    assert 3 <= len(periodic) <= charged_min + 1
    times = [ts(e["timestamp"]) for e in periodic]
    assert all((b - a).total_seconds() >= 1 for a, b in itertools.pairwise(times))  # no burst
    assert stamps == sorted(stamps)
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert any(e.get("offline") for e in periodic)
    final_wh = events[-1]["meterValue"][0]["sampledValue"][0]["value"]
    charged_s = (stamps[-1] - stamps[0]).total_seconds()
    assert final_wh == pytest.approx(6600 * charged_s / 3600, abs=0.2)
