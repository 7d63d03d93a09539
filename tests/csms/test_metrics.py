"""The /metrics endpoint serves every metric docs/csms.md lists, with live values."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from pathlib import Path

from csms.app import CsmsApp
from tests.csms.client import booted

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
    assert len(documented) == 8
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
