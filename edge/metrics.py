"""Prometheus metrics of the edge controller (all prefixed ``edge_``; docs/edge.md lists them)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class EdgeMetrics:
    """One registry per daemon instance, so tests can run several in one process."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.site_power = Gauge("edge_site_power_kw", "Main meter (site import) power", registry=r)
        self.ev_power = Gauge(
            "edge_ev_power_kw", "Measured power of controlled connectors", registry=r
        )
        self.pv_power = Gauge("edge_pv_power_kw", "PV generation", registry=r)
        self.dcfc_power = Gauge("edge_dcfc_power_kw", "DC fast charger power", registry=r)
        self.battery_power = Gauge("edge_battery_power_kw", "Stationary battery power", registry=r)
        self.budget = Gauge("edge_ev_budget_kw", "Import limit minus non-EV load", registry=r)
        self.group_limit = Gauge(
            "edge_group_limit_kw", "Sum of decided limits per group", ["group"], registry=r
        )
        self.connector_limit = Gauge(
            "edge_connector_limit_kw", "Decided limit per connector", ["connector"], registry=r
        )
        self.rule_activations = Counter(
            "edge_rule_activations", "Connectors limited by a rule, per tick", ["rule"], registry=r
        )
        self.shed_active = Gauge("edge_shed_active", "1 while the DCFC shed holds", registry=r)
        self.window_open = Gauge(
            "edge_window_open", "1 while a group's start window is open", ["group"], registry=r
        )
        self.meter_stale = Gauge(
            "edge_meter_stale", "1 while a meter's reading is stale", ["meter"], registry=r
        )
        self.bad_payloads = Counter(
            "edge_bad_meter_payloads", "Unparsable meter payloads ignored", ["meter"], registry=r
        )
        self.ticks = Counter("edge_ticks", "Control ticks by trigger", ["trigger"], registry=r)
        self.tick_duration = Histogram(
            "edge_tick_duration_seconds",
            "Control tick duration (real seconds, planner included)",
            buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.import_limit = Gauge(
            "edge_site_import_limit_kw", "Configured contract import limit", registry=r
        )
        self.base_power = Gauge(
            "edge_base_power_kw",
            "Non-EV site load used by the site-limit rule (site - EV; recent maximum)",
            registry=r,
        )
        self.planner_solve = Histogram(
            "edge_planner_solve_seconds",
            "Duration of the planner call per tick (real seconds, fallback included)",
            ["strategy"],
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.plan_status = Counter(
            "edge_plan_status",
            "Plans by configured strategy and status (optimal, feasible, fallback, heuristic)",
            ["strategy", "status"],
            registry=r,
        )
        self.planner_failures = Counter(
            "edge_planner_failures", "Planner errors or timeouts (fell back to max)", registry=r
        )
        self.commands_sent = Counter(
            "edge_commands_sent", "Commands answered ok", ["command"], registry=r
        )
        self.commands_failed = Counter(
            "edge_commands_failed",
            "Commands failed, by error code",
            ["command", "code"],
            registry=r,
        )
        self.mqtt_connected = Gauge(
            "edge_mqtt_connected", "1 while connected to the broker", registry=r
        )
        self._server: Any = None

    def command_result(self, command: str, ok: bool, code: str | None) -> None:
        if ok:
            self.commands_sent.labels(command).inc()
        else:
            self.commands_failed.labels(command, code or "unknown").inc()

    def serve(self, host: str, port: int) -> int:
        """Start the HTTP exporter (daemon thread); returns the bound port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        return int(server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def value(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        return self.registry.get_sample_value(name, labels or {})
