"""The edge's cache of the site: meter readings and station/connector state, with timestamps.

MQTT handlers only write here; the control tick reads it and handles stale
readings explicitly. ``apply_*`` return the triggers an update implies
(arrival, departure, ...) so the daemon can tick at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from evcommon.contract import (
    ConnectorStatus,
    EVChargingNeeds,
    MeterValuesEvent,
    StationState,
    TransactionEvent,
)

# 1.6 ChargePointStatus and 2.0.1 ConnectorStatusEnum values meaning "a vehicle is plugged in"
PLUGGED = {"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Occupied"}


@dataclass
class Reading:
    value_kw: float
    at: datetime


@dataclass
class ConnectorState:
    status: str | None = None
    transaction_id: str | None = None
    plugged_at: datetime | None = None
    power: Reading | None = None
    session_energy_kwh: float = 0.0
    meter_start_kwh: float | None = None
    soc_pct: float | None = None
    needs: EVChargingNeeds | None = None

    @property
    def connected(self) -> bool:
        return self.transaction_id is not None or self.status in PLUGGED


@dataclass
class SiteState:
    meters: dict[str, Reading] = field(default_factory=dict)
    connectors: dict[str, ConnectorState] = field(default_factory=dict)
    online: dict[str, bool] = field(default_factory=dict)

    def connector(self, station_id: str, connector_id: int) -> ConnectorState:
        return self.connectors.setdefault(f"{station_id}/{connector_id}", ConnectorState())

    # -- updates -----------------------------------------------------------
    def apply_meter(self, name: str, value_kw: float, at: datetime) -> None:
        self.meters[name] = Reading(value_kw, at)

    def apply_station(self, ev: StationState) -> str | None:
        was = self.online.get(ev.station_id, False)
        self.online[ev.station_id] = ev.online
        if ev.online and not was:
            return "station_online"
        if was and not ev.online:
            return "station_offline"
        return None

    def apply_status(self, ev: ConnectorStatus, now: datetime) -> str | None:
        c = self.connector(ev.station_id, ev.connector_id)
        before = c.connected
        c.status = ev.status
        if ev.transaction_id:
            c.transaction_id = ev.transaction_id
        return self._edge(c, before, now)

    def apply_transaction(self, ev: TransactionEvent, now: datetime) -> str | None:
        c = self.connector(ev.station_id, ev.connector_id)
        before = c.connected
        if ev.event == "ended":
            if c.transaction_id in (None, ev.transaction_id):
                c.transaction_id = None
                c.needs = None
                c.session_energy_kwh = 0.0
                c.meter_start_kwh = None
                if c.status in PLUGGED and c.status != "Occupied":
                    c.status = "Finishing"
            trig = self._edge(c, before, now)
            return trig or "transaction_ended"
        if ev.event == "started" or c.transaction_id is None:
            c.transaction_id = ev.transaction_id
            c.meter_start_kwh = ev.meter_start_kwh
            c.plugged_at = c.plugged_at or ev.started_at or now
        if ev.energy_kwh is not None:
            c.session_energy_kwh = ev.energy_kwh
        trig = self._edge(c, before, now)
        return trig or ("transaction_started" if ev.event == "started" else None)

    def apply_meter_values(self, ev: MeterValuesEvent, now: datetime) -> None:
        c = self.connector(ev.station_id, ev.connector_id)
        if ev.power_kw is not None:
            c.power = Reading(ev.power_kw, now)
        if ev.energy_kwh is not None and c.meter_start_kwh is not None:
            c.session_energy_kwh = max(0.0, ev.energy_kwh - c.meter_start_kwh)
        if ev.soc_pct is not None:
            c.soc_pct = ev.soc_pct

    def apply_needs(self, ev: EVChargingNeeds) -> str:
        self.connector(ev.station_id, ev.connector_id).needs = ev
        return "ev_needs"

    @staticmethod
    def _edge(c: ConnectorState, before: bool, now: datetime) -> str | None:
        if c.connected and not before:
            c.plugged_at = now
            return "arrival"
        if before and not c.connected:
            c.plugged_at = None
            c.power = None
            return "departure"
        return None

    # -- reads ---------------------------------------------------------------
    def fresh_meter(self, name: str, now: datetime, max_age_s: float) -> Reading | None:
        r = self.meters.get(name)
        if r is None or now - r.at > timedelta(seconds=max_age_s):
            return None
        return r

    def connector_power_kw(self, key: str, now: datetime, max_age_s: float) -> float:
        c = self.connectors.get(key)
        if c is None or c.power is None or now - c.power.at > timedelta(seconds=max_age_s):
            return 0.0
        return c.power.value_kw
