"""The 1.5 kW battery protection with a real station: a CSMS profile below the threshold
stops the vehicle; repeated interruptions make it give up (LBNL field behaviour)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evcommon.clock import ManualClock
from simulators.chargepoint import SimStation, StationConfig
from simulators.vehicle import Vehicle, VehicleSpec
from tests.plugins.csms import MakeCsms
from tests.plugins.sim_cp import profile_request


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_low_limit_interrupts_then_vehicle_gives_up(
    make_csms: MakeCsms, version: str
) -> None:
    clock = ManualClock(datetime(2026, 7, 1, 12, tzinfo=UTC))
    app = await make_csms(security={"accept_all_id_tags": True})
    config = StationConfig(station_id="CUT-1", ocpp_version=version, meter_interval_s=60)
    ev = Vehicle("ev", VehicleSpec(max_interruptions=2), arrival_soc_pct=20)
    async with SimStation(config, app.url, clock, seed=1) as st:
        await st.wait_accepted()
        assert await st.plug_in(1, ev)
        session = app.core.session("CUT-1")
        assert session is not None

        async def limit(profile_id: int, watts: float) -> None:
            req = profile_request(
                version,
                profile_id,
                "TxDefaultProfile",
                watts,
                connector_id=0,
                stack_level=profile_id,
            )
            assert (await session.call("SetChargingProfile", req))["status"] == "Accepted"
            await clock.advance(120)
            st.advance()

        await limit(1, 6600)
        assert st.power_kw(1) == pytest.approx(6.6)
        await limit(2, 1000)  # below 1.5 kW: the vehicle stops drawing
        assert st.power_kw(1) == 0.0 and ev.interruptions == 1 and not ev.gave_up
        await limit(3, 1650)  # the DCFC-shed level is above the threshold: charges again
        assert st.power_kw(1) == pytest.approx(1.65)
        await limit(4, 1200)  # second interruption: the driver's car gives up
        assert ev.gave_up and ev.wants_to_stop
        await limit(5, 6600)
        assert st.power_kw(1) == 0.0  # no more charging in this session
        await st.unplug(1)
        await st.flush()
