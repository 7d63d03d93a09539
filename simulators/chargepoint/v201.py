"""OCPP 2.0.1: the messages a station sends (requests it answers: v201_handlers.py)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from simulators.chargepoint import devicemodel
from simulators.chargepoint.connector import Connector, Transaction
from simulators.chargepoint.meter import meter_value
from simulators.chargepoint.offline import QueuedMessage
from simulators.chargepoint.transport import (
    CallErrorReceived,
    CallTimedOut,
    ConnectionLost,
    OcppConnection,
)
from simulators.chargepoint.v201_handlers import V201Handlers
from simulators.profiles import format_time

if TYPE_CHECKING:
    from simulators.chargepoint.station import SimStation

STOP_REASONS = {
    "DeAuthorized", "EmergencyStop", "EnergyLimitReached", "EVDisconnected", "GroundFault",
    "ImmediateReset", "Local", "LocalOutOfCredit", "MasterPass", "Other", "OvercurrentFault",
    "PowerLoss", "PowerQuality", "Reboot", "Remote", "SOCLimitReached", "StoppedByEV",
    "TimeLimitReached", "Timeout",
}  # fmt: skip
REASON_FROM_16 = {"HardReset": "ImmediateReset", "SoftReset": "ImmediateReset"}
STOP_TRIGGERS = {
    "Remote": "RemoteStop",
    "EVDisconnected": "EVDeparted",
    "Local": "StopAuthorized",
    "ImmediateReset": "ResetCommand",
    "Reboot": "ResetCommand",
    "DeAuthorized": "Deauthorized",
    "UnlockCommand": "UnlockCommand",
}


class V201Adapter(V201Handlers):
    subprotocol = "ocpp2.0.1"

    def __init__(self, station: SimStation):
        self.st = station
        self.dm = devicemodel.build(station.config)

    def configuration_changed(self) -> None:
        key = ("SmartChargingCtrlr", None, "RateUnit", None)
        self.dm[key] = devicemodel.build(self.st.config)[key]

    # station -> CSMS ----------------------------------------------------------------
    async def boot(self, conn: OcppConnection, reason: str) -> tuple[str, float]:
        cfg = self.st.config
        station: dict[str, Any] = {
            "model": cfg.model_name,
            "vendorName": cfg.vendor,
            "firmwareVersion": cfg.firmware_version,
        }
        if cfg.serial_number:
            station["serialNumber"] = cfg.serial_number
        res = await conn.call("BootNotification", {"reason": reason, "chargingStation": station})
        interval = float(res.get("interval", 0))
        if res.get("status") == "Accepted" and interval > 0:
            self.dm[("OCPPCommCtrlr", None, "HeartbeatInterval", None)].value = f"{interval:.0f}"
        return str(res.get("status")), interval

    async def heartbeat(self, conn: OcppConnection) -> None:
        await conn.call("Heartbeat", {})

    def status_of(self, c: Connector) -> str:
        if not c.operative:
            return "Unavailable"
        return "Available" if c.ev is None else "Occupied"

    async def _status(self, c: Connector, status: str) -> None:
        await self.st.call(
            "StatusNotification",
            {
                "timestamp": format_time(self.st.clock.now()),
                "connectorStatus": status,
                "evseId": c.connector_id,
                "connectorId": 1,
            },
        )

    async def report_station(self, conn: OcppConnection) -> None:
        pass  # 2.0.1 reports per connector only

    async def report(self, c: Connector) -> None:
        status = self.status_of(c)
        if status != c.reported_status and self.st.online:
            c.reported_status = status  # before awaiting: concurrent reports send it once
            try:
                await self._status(c, status)
            except (ConnectionLost, CallTimedOut, CallErrorReceived) as exc:
                # statuses are all sent again after the next (re)connect
                c.reported_status = None
                self.st.log.info("status not reported", error=str(exc))
            except BaseException:
                c.reported_status = None
                raise
        self.charging_state_changed(c)

    def connection_timeout_s(self) -> float:
        return float(self.dm[("TxCtrlr", None, "EVConnectionTimeOut", None)].value)

    def charging_state_changed(self, c: Connector) -> None:
        if c.tx is not None and c.charging_state != c.reported_charging_state:
            c.reported_charging_state = c.charging_state
            self._event(c, "Updated", "ChargingStateChanged", meter=False)

    async def authorize(self, id_token: str) -> bool:
        res = await self.st.call(
            "Authorize", {"idToken": {"idToken": id_token, "type": "ISO14443"}}
        )
        return bool(res.get("idTokenInfo", {}).get("status") == "Accepted")

    def prepare_transaction(self, tx: Transaction) -> None:
        tx.csms_id = uuid.uuid4().hex[:20]  # the station allocates 2.0.1 transaction ids

    def _event(
        self,
        c: Connector,
        event_type: str,
        trigger: str,
        *,
        meter: bool,
        context: str = "Sample.Periodic",
        stopped_reason: str | None = None,
    ) -> None:
        tx = c.tx
        assert tx is not None
        now = c.last_step
        info: dict[str, Any] = {"transactionId": tx.csms_id, "chargingState": c.charging_state}
        if stopped_reason is not None:
            info["stoppedReason"] = stopped_reason
            info["chargingState"] = "EVConnected" if c.ev is not None else "Idle"
        if tx.remote_start_id is not None and event_type == "Started":
            info["remoteStartId"] = tx.remote_start_id
        payload: dict[str, Any] = {
            "eventType": event_type,
            "timestamp": format_time(now),
            "triggerReason": trigger,
            "seqNo": tx.next_seq(),
            "transactionInfo": info,
            "evse": {"id": c.connector_id, "connectorId": 1},
        }
        if event_type != "Updated":
            payload["idToken"] = {"idToken": tx.id_token, "type": "ISO14443"}
        if not self.st.online:
            payload["offline"] = True
        if meter:
            payload["meterValue"] = [meter_value(self.st.config, c, now, context, as_text=False)]
        self.st.enqueue("TransactionEvent", payload, tx.local_ref)

    def tx_started(self, c: Connector) -> None:
        assert c.tx is not None
        trigger = "RemoteStart" if c.tx.remote_start_id is not None else "Authorized"
        c.reported_charging_state = c.charging_state
        self._event(c, "Started", trigger, meter=True, context="Transaction.Begin")

    def tx_meter(self, c: Connector) -> None:
        self._event(c, "Updated", "MeterValuePeriodic", meter=True)

    def tx_ended(self, c: Connector, reason: str) -> None:
        reason = REASON_FROM_16.get(reason, reason)
        if reason not in STOP_REASONS:
            reason = "Other"
        trigger = STOP_TRIGGERS.get(reason, "AbnormalCondition")
        self._event(
            c, "Ended", trigger, meter=True, context="Transaction.End", stopped_reason=reason
        )

    async def ev_charging_needs(self, c: Connector) -> None:
        ev = c.ev
        if ev is None:
            return
        departure, energy_kwh = ev.departure_time, ev.energy_request_kwh
        if departure is None and energy_kwh is None:
            return
        cfg = self.st.config
        if cfg.preset == "DCFC":
            kind = "DC"
            params: dict[str, Any] = {
                "dcChargingParameters": {
                    "evMaxCurrent": 125,
                    "evMaxVoltage": 500,
                    "evMaxPower": round(ev.max_power_kw() * 1000),
                    **(
                        {"energyAmount": round(energy_kwh * 1000)} if energy_kwh is not None else {}
                    ),
                }
            }
        else:
            phases = min(ev.phases, cfg.phase_count)
            kind = "AC_single_phase" if phases == 1 else "AC_three_phase"
            max_a = ev.max_power_kw() * 1000 / (cfg.volts * phases)
            params = {
                "acChargingParameters": {
                    "energyAmount": round((energy_kwh or 0.0) * 1000),
                    "evMinCurrent": 6,
                    "evMaxCurrent": max(6, round(max_a)),
                    "evMaxVoltage": round(cfg.volts),
                }
            }
        needs: dict[str, Any] = {"requestedEnergyTransfer": kind, **params}
        if departure is not None:
            needs["departureTime"] = format_time(departure)
        await self.st.call(
            "NotifyEVChargingNeeds", {"evseId": c.connector_id, "chargingNeeds": needs}
        )

    def resolve(self, msg: QueuedMessage) -> dict[str, Any]:
        return msg.payload

    def delivered(self, msg: QueuedMessage, result: dict[str, Any]) -> None:
        status = result.get("idTokenInfo", {}).get("status")
        if msg.action != "TransactionEvent" or status in (None, "Accepted"):
            return
        for c in self.st.connectors.values():
            if c.tx is not None and c.tx.local_ref == msg.tx_ref:
                self.st.spawn(self.st.stop_transaction(c, "DeAuthorized"), "deauthorized")
