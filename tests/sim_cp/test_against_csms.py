"""The simulated stations against the project's CSMS (csms.app.CsmsApp on port 0, SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from csms import security
from csms.app import CsmsApp
from csms.db.models import EvChargingNeeds, MeterValue, Station, Transaction
from evcommon.clock import ManualClock
from simulators.chargepoint import ConstantEv
from tests.plugins.csms import MakeCsms
from tests.plugins.sim_cp import profile_request
from tests.sim_cp.conftest import MakeStation


async def _rows(app: CsmsApp, model: Any) -> list[Any]:
    async with app.database.session() as s:
        return list((await s.execute(select(model))).scalars())


async def _count(app: CsmsApp, *where: Any) -> int:
    async with app.database.session() as s:
        q = select(func.count()).select_from(MeterValue).where(*where)
        return int((await s.execute(q)).scalar_one())


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_session_with_offline_gap_is_stored_completely(
    make_csms: MakeCsms, make_station: MakeStation, clock: ManualClock, version: str
) -> None:
    app = await make_csms(security={"accept_all_id_tags": True})
    st = await make_station(app.url, ocpp_version=version, meter_interval_s=60)
    ev = ConstantEv(
        max_kw=7.2,
        capacity_kwh=50,
        soc_start_pct=30,
        departure_time=clock.now() + timedelta(hours=8),
        energy_request_kwh=20,
    )
    assert await st.plug_in(1, ev)
    await clock.advance(120)
    await st.flush()
    await st.go_offline()
    await clock.advance(180)  # three samples while offline
    st.go_online()
    await st.wait_online()
    await clock.advance(60)
    tx_id = st.transaction_id(1)
    await st.stop_charging(1)
    await st.flush()
    assert st.queue.dropped == 0
    txs = await _rows(app, Transaction)
    assert len(txs) == 1
    tx = txs[0]
    assert tx.tx_key == tx_id
    assert tx.meter_stop_wh == pytest.approx(6.6 * 6 / 60 * 1000, abs=1)
    assert tx.stop_reason == "Local"
    periodic = await _count(
        app, MeterValue.measurand == "Power.Active.Import", MeterValue.context == "Sample.Periodic"
    )
    assert periodic == 6  # 2 online, 3 queued offline, 1 after: none lost, none doubled
    if version == "2.0.1":
        needs = await _rows(app, EvChargingNeeds)
        assert len(needs) == 1


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_csms_limit_reaches_the_vehicle(
    make_csms: MakeCsms, make_station: MakeStation, clock: ManualClock, version: str
) -> None:
    app = await make_csms(security={"accept_all_id_tags": True})
    st = await make_station(
        app.url, ocpp_version=version, meter_interval_s=60, quirks={"rate_units": "A"}
    )
    await st.plug_in(1, ConstantEv(max_kw=7.2))
    await clock.advance(60)
    session = app.core.session("CP-1")
    assert session is not None
    req = profile_request(version, 1, "TxDefaultProfile", 13.75, unit="A", connector_id=0)
    assert (await session.call("SetChargingProfile", req))["status"] == "Accepted"
    await clock.advance(60)
    assert st.power_kw(1) == pytest.approx(3.3)
    comp_req = (
        {"connectorId": 1, "duration": 300} if version == "1.6" else {"evseId": 1, "duration": 300}
    )
    comp = await session.call("GetCompositeSchedule", comp_req)
    assert comp["status"] == "Accepted"


async def test_basic_auth_right_and_wrong_password(
    make_csms: MakeCsms, make_station: MakeStation
) -> None:
    app = await make_csms(security={"allow_unknown_stations": False})
    async with app.database.session() as s:
        s.add(
            Station(
                station_id="CP-A",
                registry_status="Accepted",
                password_hash=security.hash_password("S3cret"),
                created_at=datetime.now(UTC),
            )
        )
        await s.commit()
    good = await make_station(app.url, station_id="CP-A", ocpp_version="2.0.1", password="S3cret")
    assert good.online
    bad = await make_station(
        app.url, station_id="CP-A2", ocpp_version="1.6", password="nope", wait=False
    )
    with pytest.raises(TimeoutError):
        await bad.wait_accepted(timeout_s=0.5)
    assert bad.connection_count == 0
