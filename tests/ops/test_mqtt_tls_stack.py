"""The CSMS and the edge on the shipped mosquitto config with TLS and passwords: both
connect over TLS, the edge's commands reach the CSMS and are audited with its identity."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from csms.app import CsmsApp
from csms.config import CsmsSettings
from csms.db.models import AuditRecord
from edge.config import load_site_config
from edge.daemon.app import EdgeApp
from evcommon.clock import ManualClock
from simulators.chargepoint.config import StationConfig
from simulators.chargepoint.station import SimStation
from tests.ops.test_mosquitto_auth import PASSWORDS, Broker, secured  # noqa: F401
from tests.plugins.edge import running_edge, small_site_toml

pytestmark = pytest.mark.mqtt


async def test_csms_and_edge_over_tls(secured: Broker, sqlite_url: str, tmp_path: Path) -> None:  # noqa: F811
    clock = ManualClock(datetime(2026, 7, 2, 5, tzinfo=UTC))
    tls = {"tls": True, "ca_file": str(secured.ca_file), "host": "127.0.0.1"}
    settings = CsmsSettings(
        server={"host": "127.0.0.1", "port": 0, "metrics_port": -1},
        database={"url": sqlite_url},
        mqtt={
            "enabled": True,
            "port": secured.tls_port,
            "username": "csms",
            "password": PASSWORDS["csms"],
            **tls,
        },
    )
    site = tmp_path / "site.toml"
    site.write_text(small_site_toml("127.0.0.1", secured.tls_port))
    edge_cfg = load_site_config(
        site, overrides={"mqtt": {"username": "edge", "password": PASSWORDS["edge"], **tls}}
    )
    async with CsmsApp(settings, clock) as csms:
        bridge: Any = csms.registry["mqtt"]
        station = SimStation(
            StationConfig(station_id="F1", ocpp_version="1.6", preset="L2"), csms.url, clock
        )
        async with running_edge(EdgeApp(edge_cfg, clock)), station:
            await station.wait_accepted()
            # the edge sees F1 come online (through the CSMS's bridge) and installs its
            # safe limits: the command crosses the broker both ways and is audited
            async with asyncio.timeout(15):
                while True:
                    async with csms.database.session() as s:
                        rows = list((await s.execute(select(AuditRecord))).scalars())
                    if any(r.result == "ok" for r in rows):
                        break
                    await asyncio.sleep(0.1)
        assert bridge.outbox.metrics.connected._value.get() == 1
    ok = [r for r in rows if r.result == "ok"]
    assert {(r.actor, r.station_id) for r in ok} == {("edge-test-site", "F1")}
    assert "install_safe_limits" in {r.action for r in ok}
