"""Re-install after a boot (issue 5): capabilities are read again, recorded kW are
re-converted to the unit the station supports now, refused records are dropped, and
re-installs are counted in csms_smart_profiles_total."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from csms.smart.service import SmartCharging
from evcommon import contract
from evcommon.clock import SimClock
from simulators.chargepoint.config import Quirks
from simulators.chargepoint.station import SimStation
from tests.smart.test_quirks import limit, one_station


def profiles_total(svc: SmartCharging, version: str, purpose: str, result: str) -> float:
    want = {"version": version, "purpose": purpose, "result": result}
    return sum(
        s.value
        for m in svc.metrics.profiles.collect()
        for s in m.samples
        if s.name == "csms_smart_profiles_total" and s.labels == want
    )


async def reboot_and_wait(
    st: SimStation, events: list[Any], clock: SimClock, expected: int
) -> list[contract.ProfileEvent]:
    """Reboot the station; the re-install outcomes (reinstalled/rejected) that follow."""
    mark = len(events)
    await st.reboot()

    def outcomes() -> list[contract.ProfileEvent]:
        return [
            e
            for e in events[mark:]
            if isinstance(e, contract.ProfileEvent) and e.event in ("reinstalled", "rejected")
        ]

    async with asyncio.timeout(10):
        while len(outcomes()) < expected:
            await clock.sleep(5)
    return outcomes()


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_reinstall_converts_to_the_unit_the_station_now_supports(sqlite_url, version) -> None:
    quirks = Quirks(rate_units="W", rate_units_after_reboot="A")
    async with one_station(sqlite_url, version, quirks) as (svc, st, events, clock):
        out = await svc.set_limit(limit(clock, number_phases=1))
        assert out["rate_unit"] == "W"
        purpose = out["purpose"]
        assert profiles_total(svc, version, purpose, "Accepted") == 1
        (outcome,) = await reboot_and_wait(st, events, clock, 1)
        assert outcome.event == "reinstalled", outcome.reason
        (rec,) = svc.store.records("Q1")
        assert rec.rate_unit == "A" and rec.periods_kw[0].limit == pytest.approx(3.3, abs=0.15)
        assert st.limit_kw(1) == pytest.approx(3.3, abs=0.15)
        comp = await svc.get_composite_schedule(
            contract.GetCompositeSchedule(
                correlation_id="g", station_id="Q1", connector_id=1, duration_s=600
            )
        )
        assert comp["rate_unit"] == "A"
        assert comp["periods"][0]["limit_kw"] == pytest.approx(3.3, abs=0.15)
        # the re-install is counted like any other SetChargingProfile
        assert profiles_total(svc, version, purpose, "Accepted") == 2


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_reinstall_refused_record_is_removed(sqlite_url, version) -> None:
    async with one_station(sqlite_url, version, Quirks()) as (svc, st, events, clock):
        await svc.set_limit(limit(clock, connector_id=0, purpose="station_max", limit_kw=6.0))
        await svc.set_limit(limit(clock, connector_id=0, purpose="tx_default", limit_kw=3.3))
        assert sorted(r.purpose for r in svc.store.records("Q1")) == ["station_max", "tx_default"]
        st.config.quirks.refuses_station_max_profile = True  # e.g. after a firmware update
        outcomes = await reboot_and_wait(st, events, clock, 2)
        by_purpose = {e.purpose: e.event for e in outcomes}
        assert by_purpose == {"station_max": "rejected", "tx_default": "reinstalled"}
        # the refused 6 kW is no longer an "installed limit" for the over-limit check
        assert [r.purpose for r in svc.store.records("Q1")] == ["tx_default"]
        assert profiles_total(svc, version, "station_max", "Rejected") == 1
        assert any(isinstance(e, contract.Alarm) and e.kind == "profile_rejected" for e in events)
