"""Prometheus metrics of one CSMS instance (own registry, served on its own port)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connected = Gauge(
            "csms_connected_stations", "Stations connected now", ["version"], registry=r
        )
        self.messages_in = Counter(
            "csms_messages_received",
            "OCPP messages received (CALL by action; CALLRESULT/CALLERROR by our action)",
            ["version", "action", "type"],
            registry=r,
        )
        self.messages_out = Counter(
            "csms_messages_sent",
            "OCPP messages sent (CALLs we made and answers to the station's CALLs)",
            ["version", "action", "type"],
            registry=r,
        )
        self.handler_latency = Histogram(
            "csms_handler_latency_seconds",
            "Time from receiving a CALL to sending its answer (includes the DB commit)",
            ["version", "action"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.oversized_frames = Counter(
            "csms_oversized_frames",
            "Frames over server.max_frame_bytes, answered with a CALLERROR (or dropped)",
            registry=r,
        )
        self.call_errors = Counter(
            "csms_call_errors",
            "CALLERRORs by spec code; direction sent (we answered one) or received",
            ["direction", "code"],
            registry=r,
        )
        self.db_latency = Histogram(
            "csms_db_commit_seconds",
            "Duration of one database batch: run the handlers' work and commit",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.db_batch = Histogram(
            "csms_db_batch_size",
            "Units of work committed together",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
            registry=r,
        )
        self.db_errors = Counter("csms_db_errors", "Database units of work that failed", registry=r)
        self.meter_values_after_stop = Counter(
            "csms_meter_values_after_stop",
            "MeterValues for a transaction the station had already stopped (stored, flagged)",
            registry=r,
        )
        self.station_connected = Gauge(
            "csms_station_connected",
            "1 while the station is connected, 0 after it disconnected (per station)",
            ["station_id", "ocpp_version"],
            registry=r,
        )
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._stations: set[tuple[str, str]] = set()  # (station_id, version) series made
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, cached: labels() costs more than the increment."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def station_online(self, station_id: str, version: str) -> None:
        """The station's series for ``version`` to 1; one for a version it used before goes
        (kept at 0 it would read as an offline station)."""
        for other in ("1.6", "2.0.1"):
            if other != version and (station_id, other) in self._stations:
                self.station_connected.remove(station_id, other)
                self._stations.discard((station_id, other))
        self._stations.add((station_id, version))
        self.station_connected.labels(station_id, version).set(1)

    def station_offline(self, station_id: str, version: str) -> None:
        # kept at 0, not removed: "== 0 for 5m" is the StationOffline alert
        self._stations.add((station_id, version))
        self.station_connected.labels(station_id, version).set(0)

    def serve(self, host: str, port: int) -> None:
        """Serve /metrics on ``port`` (0: a free one) in a daemon thread."""
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        self.port = int(self._server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Metrics:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
