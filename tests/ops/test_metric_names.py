"""The dashboard and the alert rules use only metric names the running daemons export.

Starts the real CSMS (CsmsApp, SQLite, MQTT bridge) and the real edge daemon
(EdgeApp) against a private mosquitto, scrapes both /metrics endpoints over HTTP
and checks every csms_*/edge_* name referenced in the dashboard JSON and the
rule file against the exported families.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from pathlib import Path

import pytest

from tests.ops.deployfiles import alert_exprs, dashboard_exprs, metric_names
from tests.plugins.infra import Broker

pytestmark = pytest.mark.mqtt

EDGE_SITE = """
[site]
id = "ops-test"
timezone = "America/Los_Angeles"
import_limit_kw = 100

[mqtt]
host = "127.0.0.1"
port = {port}

[metrics]
port = 0

[meters.main]
[meters.dcfc]

[groups.fleet-1]
safe_limit_kw = 1.65
shed = true

[groups.dcfc]
controlled = false

[stations.CP-1.connectors.1]
group = "fleet-1"
max_power_kw = 6.6

[stations.DCFC-1.connectors.1]
group = "dcfc"
max_power_kw = 50
"""

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}


def exported_names(exposition: str) -> set[str]:
    """Every sample name a scrape can contain, from the # TYPE lines and the samples."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(maxsplit=3)
            if kind.strip() == "counter":
                # the text format names the family with _total; OpenMetrics without
                family = family.removesuffix("_total")
            names.update(family + s for s in _SUFFIXES.get(kind.strip(), ("",)))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


async def scrape(port: int) -> str:
    def get() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    return await asyncio.to_thread(get)


def test_exported_names_parser() -> None:
    text = '# TYPE a_total counter\n# TYPE h histogram\nh_bucket{le="1"} 0\n# TYPE g gauge\n'
    names = exported_names(text + "# TYPE b counter\n")
    assert {"a_total", "b_total", "h_bucket", "h_count", "g"} <= names
    assert "a_total_total" not in names


def test_metric_names_finds_references() -> None:
    names = metric_names(['histogram_quantile(0.9, rate(edge_x_bucket{a="csms_no"}[5m]))'])
    assert names == {"edge_x_bucket"}


async def test_dashboard_and_rules_use_exported_metrics(
    tmp_path: Path, mqtt_broker: Broker, sqlite_url: str
) -> None:
    from csms.app import CsmsApp
    from csms.config import load as load_csms
    from edge.config import load_site_config
    from edge.daemon.app import EdgeApp

    settings = load_csms(port=0, db=sqlite_url, host="127.0.0.1")
    settings.server.metrics_port = 0
    settings.mqtt.enabled = True
    settings.mqtt.host, settings.mqtt.port = mqtt_broker.host, mqtt_broker.port
    site = tmp_path / "site.toml"
    site.write_text(EDGE_SITE.format(port=mqtt_broker.port))
    edge = EdgeApp(load_site_config(site))

    async with CsmsApp(settings) as csms:
        assert csms.metrics_port
        edge_task = asyncio.create_task(edge.run(), name="edge")
        try:
            await asyncio.wait_for(edge.ready.wait(), 30)
            # stopping the edge while it is still connecting can hang (reported); and a
            # connected daemon is what Prometheus scrapes in production
            await asyncio.wait_for(edge.link.connected.wait(), 30)
            assert edge.metrics_port
            exported = exported_names(await scrape(csms.metrics_port))
            exported |= exported_names(await scrape(edge.metrics_port))
        finally:
            edge.stop()
            await asyncio.wait_for(edge_task, 30)

    used_dashboard = metric_names(dashboard_exprs())
    used_alerts = metric_names(alert_exprs())
    assert used_dashboard and used_alerts
    assert used_dashboard - exported == set(), "dashboard names not exported"
    assert used_alerts - exported == set(), "alert rule names not exported"
