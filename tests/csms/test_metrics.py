"""The /metrics endpoint serves every metric docs/csms.md lists, with live values."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from csms.app import CsmsApp
from csms.db.models import Station
from tests.csms.client import booted
from tests.csms.sink import RecordingSink
from tests.plugins.csms import MakeCsms

DOC = Path(__file__).resolve().parents[2] / "docs" / "csms.md"


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
        return str(response.read().decode())


async def test_documented_metrics_are_served(csms_app: CsmsApp) -> None:
    st = await booted(csms_app.url, "CP-m", "2.0.1")
    await st.call("Heartbeat", {})
    assert csms_app.metrics_port
    text = await asyncio.to_thread(_scrape, csms_app.metrics_port)
    documented = set(re.findall(r"^\| `(csms_[a-z_]+)`", DOC.read_text(), re.M))
    assert len(documented) == 11
    for name in documented:
        assert f"# TYPE {name} " in text, name
    assert 'csms_connected_stations{version="2.0.1"} 1.0' in text
    assert (
        'csms_messages_received_total{action="Heartbeat",type="call",version="2.0.1"} 1.0' in text
    )
    assert (
        'csms_handler_latency_seconds_count{action="BootNotification",version="2.0.1"} 1.0' in text
    )
    assert re.search(r"^csms_db_commit_seconds_count [1-9]", text, re.M)
    await st.close()


async def _offline_event(sink: RecordingSink, sid: str) -> None:
    """The disconnect's StationState (sent after the gauge is updated)."""

    def seen() -> bool:
        return any(e.station_id == sid and not e.online for e in sink.of("station_state"))

    async def until() -> None:
        async with sink.changed:
            await sink.changed.wait_for(seen)

    await asyncio.wait_for(until(), 5)


def _station_gauge(app: CsmsApp, sid: str, version: str) -> float | None:
    return app.core.metrics.registry.get_sample_value(
        "csms_station_connected", {"station_id": sid, "ocpp_version": version}
    )


async def test_station_connected_gauge_follows_the_connection(csms_app: CsmsApp) -> None:
    sink = RecordingSink()
    csms_app.core.sinks.append(sink)
    assert _station_gauge(csms_app, "CP-g", "1.6") is None
    st = await booted(csms_app.url, "CP-g", "1.6")
    assert _station_gauge(csms_app, "CP-g", "1.6") == 1
    assert csms_app.metrics_port
    text = await asyncio.to_thread(_scrape, csms_app.metrics_port)
    assert 'csms_station_connected{ocpp_version="1.6",station_id="CP-g"} 1.0' in text
    await st.close()
    await _offline_event(sink, "CP-g")
    assert _station_gauge(csms_app, "CP-g", "1.6") == 0
    # back with the other version: that series is 1, the old one is gone (not "offline")
    st = await booted(csms_app.url, "CP-g", "2.0.1")
    assert _station_gauge(csms_app, "CP-g", "2.0.1") == 1
    assert _station_gauge(csms_app, "CP-g", "1.6") is None
    await st.close()


async def test_replaced_connection_keeps_the_station_at_one(csms_app: CsmsApp) -> None:
    first = await booted(csms_app.url, "CP-r", "1.6")
    second = await booted(csms_app.url, "CP-r", "1.6")
    await first._reader  # the CSMS closed the old socket
    connected = csms_app.core.metrics.connected.labels("1.6")
    for _ in range(250):  # the old handler's cleanup has run once the count is back to 1
        if connected._value.get() == 1:
            break
        await asyncio.sleep(0.02)
    assert connected._value.get() == 1
    assert _station_gauge(csms_app, "CP-r", "1.6") == 1
    await second.close()


async def test_registered_stations_start_at_zero(make_csms: MakeCsms, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    first = await make_csms(database_url=url)
    async with first.database.session() as s:
        for sid, registry, version in (
            ("CP-known", "Accepted", "2.0.1"),
            ("CP-new", "Accepted", None),  # registered, never connected
            ("CP-stranger", None, "1.6"),  # seen under allow_unknown_stations only
        ):
            s.add(
                Station(
                    station_id=sid,
                    registry_status=registry,
                    ocpp_version=version,
                    created_at=datetime.now(UTC),
                )
            )
        await s.commit()
    second = await make_csms(database_url=url)
    assert _station_gauge(second, "CP-known", "2.0.1") == 0
    assert _station_gauge(second, "CP-new", "1.6") is None
    assert _station_gauge(second, "CP-stranger", "1.6") is None
