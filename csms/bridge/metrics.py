"""Prometheus metrics of the MQTT bridge (in the CSMS's own registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class BridgeMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        r = registry if registry is not None else CollectorRegistry()
        self.dropped = Counter(
            "csms_mqtt_dropped_events",
            "Non-retained MQTT messages dropped because the outbox was full",
            registry=r,
        )
        self.publish_errors = Counter(
            "csms_mqtt_publish_errors",
            "MQTT messages the broker client refused (e.g. an invalid topic): dropped alone",
            registry=r,
        )
        self.commands = Counter(
            "csms_mqtt_commands",
            "Commands executed, by command and result",
            ["command", "result"],
            registry=r,
        )
        self.connected = Gauge("csms_mqtt_connected", "1 while connected to the broker", registry=r)
