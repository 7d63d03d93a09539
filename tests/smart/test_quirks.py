"""Component tests: the smart-charging service against SimStations with the charger
quirks of issue 4 switched on (real OCPP frames, real database, no broker)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from csms.app import CsmsApp
from csms.config import CsmsSettings
from csms.smart.errors import InvalidLimit, LimitRejected
from csms.smart.service import SmartCharging
from evcommon import contract
from evcommon.clock import SimClock
from simulators.chargepoint.config import Quirks, StationConfig
from simulators.chargepoint.station import SimStation
from simulators.chargepoint.testing import ConstantEv

SPEED = 120.0


@asynccontextmanager
async def csms(db_url: str, clock: SimClock, **smart: Any) -> AsyncIterator[CsmsApp]:
    settings = CsmsSettings(
        server={"host": "127.0.0.1", "port": 0, "metrics_port": -1},
        database={"url": db_url},
        security={"accept_all_id_tags": True},
        smart_charging=smart,
    )
    async with CsmsApp(settings, clock) as app:
        yield app


@asynccontextmanager
async def one_station(
    db_url: str, version: str, quirks: Quirks, **smart: Any
) -> AsyncIterator[tuple[SmartCharging, SimStation, list[Any], SimClock]]:
    clock = SimClock(datetime(2026, 7, 1, 8, tzinfo=UTC), speed=SPEED)
    cfg = StationConfig(
        station_id="Q1", ocpp_version=version, preset="L2", meter_interval_s=60, quirks=quirks
    )
    async with csms(db_url, clock, **smart) as app, SimStation(cfg, app.url, clock) as st:
        await st.wait_accepted()
        svc = app.registry["smart"]
        assert isinstance(svc, SmartCharging)
        events: list[Any] = []
        svc.subscribe(events.append)
        yield svc, st, events, clock


def limit(clock: SimClock, **kw: Any) -> contract.SetLimit:
    fields: dict[str, Any] = dict(
        correlation_id="q",
        station_id="Q1",
        connector_id=1,
        limit_kw=3.3,
        valid_to=clock.now() + timedelta(hours=1),
    )
    fields.update(kw)
    return contract.SetLimit(**fields)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_refused_max_profile_falls_back_to_tx_default(sqlite_url, version) -> None:
    quirks = Quirks(refuses_station_max_profile=True)
    async with one_station(sqlite_url, version, quirks) as (svc, st, events, clock):
        out = await svc.set_limit(limit(clock, connector_id=0, purpose="station_max"))
        assert out["purpose"] == "tx_default" and out["ocpp_purpose"] == "TxDefaultProfile"
        assert [a["status"] for a in out["attempts"]] == ["Rejected", "Accepted"]
        assert st.limit_kw(1) == pytest.approx(3.3)
        installed = [e for e in events if getattr(e, "event", None) == "installed"]
        assert installed and "fell back from station_max" in (installed[0].reason or "")


async def test_stack_level_and_periods_respected(sqlite_url) -> None:
    quirks = Quirks(max_stack_level=0, max_schedule_periods=2)
    async with one_station(sqlite_url, "1.6", quirks) as (svc, st, _events, clock):
        schedule = [
            {"start_s": 0, "limit_kw": 2.0},
            {"start_s": 600, "limit_kw": 3.0},
            {"start_s": 1200, "limit_kw": 4.0},
        ]
        out = await svc.set_limit(limit(clock, limit_kw=None, schedule=schedule, stack_level=3))
        assert out["stack_level"] == 0
        assert out["limits"] == [2000.0, 3000.0] and out["truncated_periods"] == 1
        assert st.limit_kw(1) == pytest.approx(2.0)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_load_management_disabled_reported_once(sqlite_url, version) -> None:
    quirks = Quirks(external_load_management_disabled=True)
    async with one_station(sqlite_url, version, quirks) as (svc, _st, events, clock):
        with pytest.raises(LimitRejected):
            await svc.set_limit(limit(clock, connector_id=0, purpose="station_max"))
        with pytest.raises(LimitRejected, match="disabled"):
            await svc.set_limit(limit(clock))
        flagged = [e for e in events if getattr(e, "event", "") == "load_management_disabled"]
        assert len(flagged) == 1


async def test_tx_limit_outside_a_transaction_becomes_tx_default(sqlite_url) -> None:
    async with one_station(sqlite_url, "2.0.1", Quirks()) as (svc, st, _events, clock):
        out = await svc.set_limit(limit(clock, purpose="tx"))
        assert out["purpose"] == "tx_default"
        assert await st.plug_in(1, ConstantEv(max_kw=7.2))
        assert st.limit_kw(1) == pytest.approx(3.3)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_clear_answered_unknown_clears_by_id(sqlite_url, version) -> None:
    quirks = Quirks(clear_by_criteria_unknown=True)
    async with one_station(sqlite_url, version, quirks) as (svc, st, _events, clock):
        out = await svc.set_limit(limit(clock))
        assert st.limit_kw(1) == pytest.approx(3.3)
        cleared = await svc.clear_limit(
            contract.ClearLimit(
                correlation_id="c", station_id="Q1", connector_id=1, purpose="tx_default"
            )
        )
        assert cleared["cleared_profile_ids"] == [out["profile_id"]]
        assert [r["status"] for r in cleared["requests"]] == ["Unknown", "Accepted"]
        assert cleared["verification"]["status"] == "ok"
        assert st.limit_kw(1) == pytest.approx(6.6)
        assert svc.store.records("Q1") == []
        with pytest.raises(InvalidLimit, match="profile_id"):
            await svc.clear_limit(
                contract.ClearLimit(correlation_id="c2", station_id="Q1", profile_id=12345)
            )


async def test_station_ignoring_limits_raises_an_over_limit_alarm(sqlite_url) -> None:
    quirks = Quirks(ignores_limits=True)
    async with one_station(sqlite_url, "1.6", quirks, over_limit_grace_s=30) as (
        svc,
        st,
        events,
        clock,
    ):
        assert await st.plug_in(1, ConstantEv(max_kw=7.2))
        await svc.set_limit(limit(clock))
        async with asyncio.timeout(5):
            while not any(isinstance(e, contract.Alarm) and e.kind == "over_limit" for e in events):
                await clock.sleep(30)  # the station meters every 60 s
        alarm = next(e for e in events if isinstance(e, contract.Alarm))
        assert alarm.limit_kw == 3.3 and alarm.measured_kw == pytest.approx(6.6)
        samples = {
            s.name: s.value
            for m in svc.metrics.over_limit_alarms.collect()
            for s in m.samples
            if s.labels.get("station_id") == "Q1"
        }
        assert samples["csms_smart_over_limit_alarms_total"] == 1


async def test_composite_schedule_and_invalid_requests(sqlite_url) -> None:
    async with one_station(sqlite_url, "2.0.1", Quirks(rate_units="A")) as (svc, _st, _e, clock):
        await svc.set_limit(limit(clock, number_phases=1))
        comp = await svc.get_composite_schedule(
            contract.GetCompositeSchedule(
                correlation_id="g", station_id="Q1", connector_id=1, duration_s=600
            )
        )
        assert comp["rate_unit"] == "A"
        # the MQTT contract writes UTC times with a Z, never +00:00
        assert comp["schedule_start"].endswith("Z") and "+00:00" not in comp["schedule_start"]
        # 3.3 kW at the default 230 V (nothing reported yet), 1 phase: 14.3 A
        assert comp["periods"][0]["limit"] == 14.3
        with pytest.raises(InvalidLimit, match="valid_to"):
            await svc.set_limit(limit(clock, valid_to=clock.now() - timedelta(seconds=5)))


async def test_record_survives_a_csms_restart(database_url) -> None:
    """The persistent record: a new CSMS process re-installs after the next boot."""
    clock = SimClock(datetime(2026, 7, 1, 8, tzinfo=UTC), speed=SPEED)
    cfg = StationConfig(station_id="Q1", ocpp_version="1.6", preset="L2")
    async with csms(database_url, clock) as app, SimStation(cfg, app.url, clock) as st:
        await st.wait_accepted()
        svc = app.registry["smart"]
        assert isinstance(svc, SmartCharging)
        await svc.install_safe_limits(
            contract.InstallSafeLimits(
                correlation_id="s", station_id="Q1", connector_default_kw=4.0
            )
        )
        assert st.limit_kw(1) == pytest.approx(4.0)
    async with csms(database_url, clock) as app:
        svc = app.registry["smart"]
        assert isinstance(svc, SmartCharging)
        assert [r.purpose for r in svc.store.records("Q1")] == ["tx_default"]
        async with SimStation(cfg, app.url, clock) as st:  # a fresh station: no profiles
            await st.wait_accepted()
            async with asyncio.timeout(5):
                while st.limit_kw(1) > 4.01:
                    await clock.sleep(5)
            assert st.limit_kw(1) == pytest.approx(4.0)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_mismatch_event_follows_installed(sqlite_url, version) -> None:
    """A composite schedule above what we installed: "installed" first, then "mismatch"."""
    quirks = Quirks(composite_limit_factor=2.0)
    async with one_station(sqlite_url, version, quirks) as (svc, _st, events, clock):
        result = await svc.set_limit(limit(clock))
        assert result["verification"]["status"] == "mismatch"
        kinds = [e.event for e in events if isinstance(e, contract.ProfileEvent)]
        assert kinds == ["installed", "mismatch"]
