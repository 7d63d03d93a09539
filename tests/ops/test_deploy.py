"""deploy/: the compose stack, Prometheus and Grafana files are well formed and consistent."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ops.deployfiles import (
    ALERTS,
    COMPOSE,
    DASHBOARD,
    DEPLOY,
    PROM_CONFIG,
    ROOT,
    alert_exprs,
    dashboard_exprs,
    load_yaml,
    metric_names,
)

REQUIRED_ALERTS = {
    "StationOffline",
    "EdgeStaleMeters",
    "SiteAboveImportLimit",
    "OptimizerFallingBack",
}


def _promtool() -> str | None:
    return os.environ.get("EVSITE_PROMTOOL") or shutil.which("promtool")


def test_compose_services_and_mounts() -> None:
    compose = load_yaml(COMPOSE)
    services = compose["services"]
    assert {"csms", "edge", "mosquitto", "postgres", "prometheus", "grafana"} <= set(services)
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
    assert (ROOT / services["csms"]["build"]["context"].replace("..", ".")).is_dir()
    assert (DEPLOY.parent / services["csms"]["build"]["dockerfile"]).is_file()


def test_compose_secrets_come_from_env_example() -> None:
    text = COMPOSE.read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    example = {
        line.split("=", 1)[0]
        for line in (DEPLOY / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert used <= example, used - example


def test_mosquitto_requires_authentication() -> None:
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    assert re.search(r"^allow_anonymous false$", conf, re.M)
    assert re.search(r"^password_file ", conf, re.M)


def test_prometheus_scrapes_the_daemons_default_metrics_ports() -> None:
    config = load_yaml(PROM_CONFIG)
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0] for job in config["scrape_configs"]
    }
    csms_config = importlib.import_module("csms.config")
    edge_config = importlib.import_module("edge.config")
    assert targets["csms"] == f"csms:{csms_config.ServerSection().metrics_port}"
    assert targets["edge"] == f"edge:{edge_config.MetricsSection().port}"
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_alert_rules_cover_the_issue() -> None:
    rules = load_yaml(ALERTS)
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert names >= REQUIRED_ALERTS
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["annotations"]["summary"], rule["alert"]
            assert rule["labels"]["severity"] in {"warning", "critical"}


def test_dashboard_is_generated_and_complete() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_dashboard", DEPLOY / "grafana" / "make_dashboard.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = json.loads(DASHBOARD.read_text())
    assert committed == module.build(), "run python deploy/grafana/make_dashboard.py"
    titles = {p["title"] for p in committed["panels"]}
    for needed in (
        "Site power and its parts",
        "Limit by group",
        "Rule activations",
        "Stations online by OCPP version",
        "OCPP messages per second",
        "Handler latency",
        "Optimizer solve time",
        "Stale meters",
    ):
        assert needed in titles
    names = metric_names(dashboard_exprs())
    for part in ("site", "ev", "pv", "battery", "dcfc"):
        assert f"edge_{part}_power_kw" in names
    ids = [p["id"] for p in committed["panels"]]
    assert len(ids) == len(set(ids))


def test_grafana_provisioning_points_at_the_dashboards() -> None:
    ds = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    uid = ds["datasources"][0]["uid"]
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == uid
    providers = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "evsite.yml")
    compose = load_yaml(COMPOSE)
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{providers['providers'][0]['options']['path']}:ro" in mounts


@pytest.mark.skipif(
    _promtool() is None, reason="promtool not installed (apt-get install prometheus)"
)
def test_promtool_accepts_config_and_rules(tmp_path: Path) -> None:
    promtool = _promtool()
    assert promtool
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    config = PROM_CONFIG.read_text().replace(
        "/etc/prometheus/alerts.yml", str(tmp_path / "alerts.yml")
    )
    (tmp_path / "prometheus.yml").write_text(config)
    for args in (
        ["check", "config", str(tmp_path / "prometheus.yml")],
        ["check", "rules", str(ALERTS)],
    ):
        proc = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    tests = DEPLOY / "prometheus" / "alerts_test.yml"
    if tests.exists():
        shutil.copy(tests, tmp_path / "alerts_test.yml")
        proc = subprocess.run(
            [promtool, "test", "rules", "alerts_test.yml"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_alert_names_our_metrics() -> None:
    names = metric_names(alert_exprs())
    assert any(n.startswith("csms_") for n in names)
    assert any(n.startswith("edge_") for n in names)


@pytest.mark.parametrize("path", ["systemd/csms.toml", "deploy/config/csms.toml"])
def test_shipped_csms_configs_load(path: str) -> None:
    from csms.config import load

    settings = load(ROOT / path)
    assert settings.security.allow_unknown_stations is False  # production: registered only
    assert settings.mqtt.enabled
    assert settings.database.url.startswith("sqlite:////var/lib/")


def test_compose_env_overrides_name_real_keys() -> None:
    """Every CSMS_/EDGE_ variable in the compose file maps to a key of the settings tree."""
    from csms.config import CsmsSettings
    from edge.config import EdgeConfig

    compose = load_yaml(COMPOSE)
    for service, model in (("csms", CsmsSettings), ("edge", EdgeConfig)):
        for var in compose["services"][service].get("environment", {}):
            section, _, key = var.split("_", 1)[1].lower().partition("__")
            assert section in model.model_fields, var
            sub = model.model_fields[section].annotation
            assert key in sub.model_fields, var  # type: ignore[union-attr]
