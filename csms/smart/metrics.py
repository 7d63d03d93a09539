"""Prometheus metrics of smart charging and the MQTT bridge, registered in the CSMS's
own registry (served on its /metrics port) so that several CSMS instances in one
process (tests) do not collide."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge


def registry_of(directory: Any) -> CollectorRegistry:
    """The core's registry (csms.metrics.Metrics on the directory), else a private one."""
    registry = getattr(getattr(directory, "metrics", None), "registry", None)
    return registry if isinstance(registry, CollectorRegistry) else CollectorRegistry()


class SmartMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        r = registry if registry is not None else CollectorRegistry()
        self.profiles = Counter(
            "csms_smart_profiles",
            "SetChargingProfile outcomes",
            ["version", "purpose", "result"],
            registry=r,
        )
        self.over_limit_alarms = Counter(
            "csms_smart_over_limit_alarms",
            "Over-limit episodes: a station drew more than its installed limit",
            ["station_id"],
            registry=r,
        )
        self.over_limit = Gauge(
            "csms_smart_over_limit",
            "1 while a connector draws more than its installed limit",
            ["station_id", "connector_id"],
            registry=r,
        )
