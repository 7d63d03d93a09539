"""Readers for the deploy/ files shared by the ops tests: metric names used in PromQL."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "evsite-site.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
PROM_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
COMPOSE = DEPLOY / "docker-compose.yml"

_IDENT = re.compile(r"\b((?:csms|edge)_[a-zA-Z0-9_:]+)")
_HIST_SUFFIXES = ("_bucket", "_sum", "_count")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def alert_exprs() -> list[str]:
    rules = load_yaml(ALERTS)
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def metric_names(exprs: list[str]) -> set[str]:
    """Metric names referenced in PromQL (our prefixes only), histogram suffixes kept."""
    names: set[str] = set()
    for expr in exprs:
        # label values in quotes may look like names; drop string literals first
        expr = re.sub(r'"[^"]*"', '""', expr)
        names.update(_IDENT.findall(expr))
    return names


def sample_names(exposition: str) -> set[str]:
    """Every sample name in a Prometheus text exposition."""
    names = set()
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names
