"""Generate dashboards/evsite-site.json (run: python deploy/grafana/make_dashboard.py).

The dashboard is data; this script keeps the panel layout and the PromQL in one
readable place. tests/ops checks that every metric it names is exported by the
running daemons.
"""

from __future__ import annotations

import json
from pathlib import Path

DS = {"type": "prometheus", "uid": "evsite-prometheus"}
OUT = Path(__file__).parent / "dashboards" / "evsite-site.json"


def _quantile(q: float, bucket: str, by: str = "le", window: str = "5m") -> str:
    return f"histogram_quantile({q}, sum by ({by}) (rate({bucket}[{window}])))"


# (title, unit, [(expr, legend)], width, description)
ROWS: list[tuple[str, list[tuple[str, str, list[tuple[str, str]], int, str]]]] = [
    (
        "Site power",
        [
            (
                "Site power and its parts",
                "kwatt",
                [
                    ("edge_site_power_kw", "site (grid import)"),
                    ("edge_base_power_kw", "base load (non-EV, used by the limit rule)"),
                    ("edge_ev_power_kw", "EV charging (controlled)"),
                    ("edge_pv_power_kw", "PV"),
                    ("edge_battery_power_kw", "battery"),
                    ("edge_dcfc_power_kw", "DC fast charger"),
                    ("edge_site_import_limit_kw", "import limit (contract)"),
                ],
                24,
                "Grid import at the main meter and its parts. Base load is the non-EV load"
                " (site - EV, DCFC, battery and PV included) that the site-limit rule"
                " subtracts from the import limit; a gap while the main meter is stale.",
            ),
        ],
    ),
    (
        "Control",
        [
            (
                "Limit by group",
                "kwatt",
                [("sum by (group) (edge_group_limit_kw)", "{{group}}")],
                12,
                "Sum of the limits the edge sent to each station group.",
            ),
            (
                "Rule activations",
                "ops",
                [("sum by (rule) (increase(edge_rule_activations_total[5m]))", "{{rule}}")],
                12,
                "Connectors limited by each rule (staged windows, DCFC shed, import limit,"
                " 1.5 kW floor) per 5 minutes.",
            ),
            (
                "Optimizer solve time",
                "s",
                [
                    (
                        _quantile(0.5, "edge_planner_solve_seconds_bucket", "le, strategy", "15m"),
                        "p50 {{strategy}}",
                    ),
                    (
                        _quantile(0.95, "edge_planner_solve_seconds_bucket", "le, strategy", "15m"),
                        "p95 {{strategy}}",
                    ),
                    (
                        _quantile(0.95, "edge_tick_duration_seconds_bucket", window="15m"),
                        "p95 tick",
                    ),
                ],
                8,
                "Duration of the planner call per tick (MILP build and solve), and of the whole"
                " control tick, real seconds.",
            ),
            (
                "Plan status",
                "short",
                [
                    (
                        "sum by (strategy, status) (increase(edge_plan_status_total[1h]))",
                        "{{strategy}} {{status}}",
                    )
                ],
                8,
                "Plans per hour by status: optimal, feasible (time limit hit with a solution),"
                " heuristic (max/greedy planners), fallback (the planner failed or timed out"
                " and the max plan was used).",
            ),
            (
                "Stale meters",
                "short",
                [("max by (meter) (edge_meter_stale)", "{{meter}}")],
                8,
                "1 while a meter's last reading is older than its stale_after_s.",
            ),
            (
                "DCFC shed and start windows",
                "short",
                [
                    ("edge_shed_active", "DCFC shed active"),
                    ("max by (group) (edge_window_open)", "window open {{group}}"),
                ],
                12,
                "1 while the DCFC shed holds the shed groups, or a group's start window is open.",
            ),
            (
                "Commands to the CSMS",
                "ops",
                [
                    ("sum(rate(edge_commands_sent_total[5m]))", "answered ok"),
                    ("sum by (code) (rate(edge_commands_failed_total[5m]))", "failed {{code}}"),
                ],
                12,
                "",
            ),
        ],
    ),
    (
        "Central system",
        [
            (
                "Stations online by OCPP version",
                "short",
                [("sum by (version) (csms_connected_stations)", "OCPP {{version}}")],
                6,
                "",
            ),
            (
                "Stations offline",
                "short",
                [("max by (station_id) (csms_station_connected == 0)", "{{station_id}}")],
                6,
                "Known stations not connected now (csms_station_connected == 0); the"
                " StationOffline alert fires after 5 minutes.",
            ),
            (
                "OCPP messages per second",
                "ops",
                [
                    ("sum(rate(csms_messages_received_total[1m]))", "received"),
                    ("sum(rate(csms_messages_sent_total[1m]))", "sent"),
                ],
                6,
                "",
            ),
            (
                "CALLERRORs by code",
                "ops",
                [
                    (
                        "sum by (direction, code) (rate(csms_call_errors_total[5m]))",
                        "{{direction}} {{code}}",
                    )
                ],
                6,
                "",
            ),
            (
                "Handler latency",
                "s",
                [
                    (_quantile(0.5, "csms_handler_latency_seconds_bucket"), "p50"),
                    (_quantile(0.99, "csms_handler_latency_seconds_bucket"), "p99"),
                ],
                12,
                "Time from a frame's arrival to its answer (includes the database commit).",
            ),
            (
                "Database commit latency",
                "s",
                [(_quantile(0.99, "csms_db_commit_seconds_bucket"), "p99")],
                12,
                "",
            ),
        ],
    ),
]


def _panel(pid: int, x: int, y: int, spec: tuple[str, str, list[tuple[str, str]], int, str]):
    title, unit, targets, width, description = spec
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": width, "h": 8},
        "fieldConfig": {
            "defaults": {"unit": unit, "custom": {"lineWidth": 1, "fillOpacity": 10}},
            "overrides": [],
        },
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DS, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def build() -> dict[str, object]:
    panels: list[dict[str, object]] = []
    pid, y = 1, 0
    for row_title, specs in ROWS:
        panels.append(
            {
                "id": pid,
                "type": "row",
                "title": row_title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
                "panels": [],
            }
        )
        pid, y, x = pid + 1, y + 1, 0
        for spec in specs:
            if x + spec[3] > 24:
                x, y = 0, y + 8
            panels.append(_panel(pid, x, y, spec))
            pid, x = pid + 1, x + spec[3]
        y += 8
    return {
        "uid": "evsite-site",
        "title": "evsite: site and central system",
        "tags": ["evsite"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=2) + "\n")
    print(f"wrote {OUT}")
