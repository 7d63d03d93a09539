"""Component tests: clearing limits by criteria (real OCPP frames against SimStations)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csms.app import CsmsApp
from csms.config import CsmsSettings
from csms.smart.service import SmartCharging
from evcommon import contract
from evcommon.clock import SimClock
from simulators.chargepoint.config import Quirks, StationConfig
from simulators.chargepoint.station import SimStation


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
@pytest.mark.parametrize("criteria_unknown", [False, True])
async def test_catch_all_clear_reclears_only_what_answered_unknown_and_checks_each_connector(
    sqlite_url: str, version: str, criteria_unknown: bool
) -> None:
    clock = SimClock(datetime(2026, 7, 1, 8, tzinfo=UTC), speed=120.0)
    settings = CsmsSettings(
        server={"host": "127.0.0.1", "port": 0, "metrics_port": -1},
        database={"url": sqlite_url},
        security={"accept_all_id_tags": True},
    )
    cfg = StationConfig(
        station_id="C2",
        ocpp_version=version,
        preset="L2",
        connectors=2,
        quirks=Quirks(clear_by_criteria_unknown=criteria_unknown),
    )
    async with CsmsApp(settings, clock) as app, SimStation(cfg, app.url, clock) as st:
        await st.wait_accepted()
        svc = app.registry["smart"]
        assert isinstance(svc, SmartCharging)
        installed = []
        for connector in (1, 2):
            out = await svc.set_limit(
                contract.SetLimit(
                    correlation_id=f"s{connector}",
                    station_id="C2",
                    connector_id=connector,
                    limit_kw=3.3,
                    valid_to=clock.now() + timedelta(hours=1),
                )
            )
            installed.append(out["profile_id"])
            assert st.limit_kw(connector) == pytest.approx(3.3)

        cleared = await svc.clear_limit(contract.ClearLimit(correlation_id="c", station_id="C2"))

        assert sorted(cleared["cleared_profile_ids"]) == sorted(installed)
        by_criteria = [r for r in cleared["requests"] if "chargingProfilePurpose" in str(r)]
        by_id = [r for r in cleared["requests"] if r not in by_criteria]
        assert len(by_criteria) == 3  # one per purpose we own
        # nothing but the TxDefaults was installed: Unknown for station_max and tx is the
        # right answer and must not trigger clears by id; the quirk makes tx_default's
        # Unknown too, and only its two records are then cleared by id
        assert len(by_id) == (2 if criteria_unknown else 0)
        assert cleared["verification"]["status"] == "ok"
        assert set(cleared["verification"]["connectors"]) == {"1", "2"}
        assert st.limit_kw(1) == pytest.approx(st.limit_kw(2)) and st.limit_kw(1) > 3.3
        assert svc.store.records("C2") == []
