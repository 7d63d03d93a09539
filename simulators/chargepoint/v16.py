"""OCPP 1.6J: the messages a station sends and the CSMS requests it answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulators.chargepoint.connector import Connector, Transaction
from simulators.chargepoint.meter import meter_value
from simulators.chargepoint.offline import QueuedMessage
from simulators.chargepoint.smart import clear_profiles, composite, quirk_schedule, set_profile
from simulators.chargepoint.transport import (
    CallErrorReceived,
    CallTimedOut,
    ConnectionLost,
    OcppConnection,
    OcppError,
    Reply,
)
from simulators.profiles import composite_to_v16, format_time, profile_from_v16
from simulators.profiles.parse import PURPOSE_16

if TYPE_CHECKING:
    from simulators.chargepoint.station import SimStation

UNITS_16 = {"A": "Current", "W": "Power", "both": "Current,Power"}


class V16Adapter:
    subprotocol = "ocpp1.6"

    def __init__(self, station: SimStation):
        self.st = station
        self._tx_ids: dict[str, int] = {}  # local transaction ref -> CSMS transaction id
        cfg, q = station.config, station.config.quirks
        # key -> (value, readonly)
        self.settings: dict[str, tuple[str, bool]] = {
            "HeartbeatInterval": (f"{cfg.heartbeat_interval_s:g}", False),
            "MeterValueSampleInterval": (f"{cfg.meter_interval_s:g}", False),
            "MeterValuesSampledData": (
                "Energy.Active.Import.Register,Power.Active.Import,Current.Import,SoC",
                False,
            ),
            "NumberOfConnectors": (str(cfg.connectors), True),
            "AuthorizeRemoteTxRequests": ("false", False),
            "LocalAuthorizeOffline": ("true", False),
            "ConnectionTimeOut": ("120", False),
            "TransactionMessageAttempts": (str(cfg.transaction_message_attempts), False),
            "TransactionMessageRetryInterval": (
                f"{cfg.transaction_message_retry_interval_s:g}",
                False,
            ),
            "StopTransactionOnEVSideDisconnect": ("true", True),
            "SupportedFeatureProfiles": ("Core,SmartCharging,RemoteTrigger", True),
            "ChargeProfileMaxStackLevel": (str(q.max_stack_level), True),
            "ChargingScheduleAllowedChargingRateUnit": (UNITS_16[q.rate_units], True),
            "ChargingScheduleMaxPeriods": (str(q.max_schedule_periods), True),
            "MaxChargingProfilesInstalled": (str(q.max_profiles_installed), True),
        }

    def configuration_changed(self) -> None:
        units = UNITS_16[self.st.config.quirks.rate_units]
        self.settings["ChargingScheduleAllowedChargingRateUnit"] = (units, True)

    # station -> CSMS ----------------------------------------------------------------
    async def boot(self, conn: OcppConnection, reason: str) -> tuple[str, float]:
        cfg = self.st.config
        payload: dict[str, Any] = {
            "chargePointVendor": cfg.vendor,
            "chargePointModel": cfg.model_name,
            "firmwareVersion": cfg.firmware_version,
        }
        if cfg.serial_number:
            payload["chargePointSerialNumber"] = cfg.serial_number
        res = await conn.call("BootNotification", payload)
        interval = float(res.get("interval", 0))
        if res.get("status") == "Accepted" and interval > 0:
            self.settings["HeartbeatInterval"] = (f"{interval:g}", False)
        return str(res.get("status")), interval

    async def heartbeat(self, conn: OcppConnection) -> None:
        await conn.call("Heartbeat", {})

    def status_of(self, c: Connector) -> str:
        if not c.operative:
            return "Unavailable"
        if c.ev is None:
            return "Available"
        if c.tx is None:
            return "Finishing" if c.finishing else "Preparing"
        return c.charging_state if c.charging_state != "EVConnected" else "Preparing"

    async def _status(self, connector_id: int, status: str) -> None:
        await self.st.call(
            "StatusNotification",
            {
                "connectorId": connector_id,
                "errorCode": "NoError",
                "status": status,
                "timestamp": format_time(self.st.clock.now()),
            },
        )

    async def report_station(self, conn: OcppConnection) -> None:
        operative = any(c.operative for c in self.st.connectors.values())
        await self._status(0, "Available" if operative else "Unavailable")

    async def report(self, c: Connector) -> None:
        status = self.status_of(c)
        if status != c.reported_status and self.st.online:
            c.reported_status = status  # before awaiting: concurrent reports send it once
            try:
                await self._status(c.connector_id, status)
            except (ConnectionLost, CallTimedOut, CallErrorReceived) as exc:
                # statuses are all sent again after the next (re)connect
                c.reported_status = None
                self.st.log.info("status not reported", error=str(exc))
            except BaseException:
                c.reported_status = None
                raise

    def connection_timeout_s(self) -> float:
        return float(self.settings["ConnectionTimeOut"][0])

    def charging_state_changed(self, c: Connector) -> None:
        pass  # 1.6 reports charging states as connector statuses

    async def authorize(self, id_token: str) -> bool:
        res = await self.st.call("Authorize", {"idTag": id_token})
        return bool(res.get("idTagInfo", {}).get("status") == "Accepted")

    def prepare_transaction(self, tx: Transaction) -> None:
        pass  # the CSMS assigns the id in StartTransaction.conf

    def tx_started(self, c: Connector) -> None:
        assert c.tx is not None
        payload = {
            "connectorId": c.connector_id,
            "idTag": c.tx.id_token,
            "meterStart": round(c.tx.meter_start_wh),
            "timestamp": format_time(c.tx.started_at),
        }
        self.st.enqueue("StartTransaction", payload, c.tx.local_ref)

    def tx_meter(self, c: Connector) -> None:
        assert c.tx is not None
        mv = meter_value(self.st.config, c, c.last_step, "Sample.Periodic", as_text=True)
        payload = {"connectorId": c.connector_id, "transactionId": 0, "meterValue": [mv]}
        self.st.enqueue("MeterValues", payload, c.tx.local_ref)

    def tx_ended(self, c: Connector, reason: str) -> None:
        assert c.tx is not None
        now = c.last_step
        end = meter_value(self.st.config, c, now, "Transaction.End", as_text=True)
        payload = {
            "transactionId": 0,
            "idTag": c.tx.id_token,
            "meterStop": round(c.energy_wh),
            "timestamp": format_time(now),
            "reason": reason,
            "transactionData": [end],
        }
        self.st.enqueue("StopTransaction", payload, c.tx.local_ref)

    async def ev_charging_needs(self, c: Connector) -> None:
        pass  # 1.6 has no such message

    def resolve(self, msg: QueuedMessage) -> dict[str, Any]:
        if msg.action == "StartTransaction" or msg.tx_ref is None:
            return msg.payload
        tx_id = self._tx_ids.get(msg.tx_ref)
        if tx_id is None:  # its StartTransaction was given up: nothing to refer to
            raise CallErrorReceived("InternalError", "transaction id unknown")
        return {**msg.payload, "transactionId": tx_id}

    def delivered(self, msg: QueuedMessage, result: dict[str, Any]) -> None:
        if msg.action != "StartTransaction" or msg.tx_ref is None:
            return
        tx_id = int(result["transactionId"])
        self._tx_ids[msg.tx_ref] = tx_id
        for c in self.st.connectors.values():
            if c.tx is not None and c.tx.local_ref == msg.tx_ref:
                c.tx.csms_id = str(tx_id)
                if result.get("idTagInfo", {}).get("status") not in (None, "Accepted"):
                    # StopTransactionOnInvalidId: the CSMS refused the id tag
                    self.st.spawn(self.st.stop_transaction(c, "DeAuthorized"), "deauthorized")

    # CSMS -> station -------------------------------------------------------------
    async def handle(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | Reply:
        method = getattr(self, f"on_{action}", None)
        if method is None:
            raise OcppError("NotSupported", f"{action} is not supported by this station")
        result: dict[str, Any] | Reply = await method(payload)
        return result

    def _connector_with_tx(self, tx_id: int) -> Connector | None:
        for c in self.st.connectors.values():
            if c.tx is not None and c.tx.csms_id == str(tx_id):
                return c
        return None

    async def on_RemoteStartTransaction(self, p: dict[str, Any]) -> dict[str, Any] | Reply:
        cid = p.get("connectorId")
        candidates = [self.st.connectors.get(cid)] if cid else list(self.st.connectors.values())
        free = [c for c in candidates if c is not None and c.tx is None and c.operative]
        if not free:
            return {"status": "Rejected"}
        plugged = [c for c in free if c.ev is not None]
        c = (plugged or free)[0]
        profile = p.get("chargingProfile")
        if profile is not None and profile.get("chargingProfilePurpose") != "TxProfile":
            return {"status": "Rejected"}
        if c.ev is None:  # starts when the EV is plugged in
            self.st.await_cable(c, p["idTag"], None)
            return {"status": "Accepted"}

        async def start() -> None:
            await self.st.start_transaction(c, p["idTag"])
            if profile is not None:
                set_profile(self.st, profile_from_v16(profile, c.connector_id, self.st.clock.now()))

        return Reply({"status": "Accepted"}, start)

    async def on_RemoteStopTransaction(self, p: dict[str, Any]) -> dict[str, Any] | Reply:
        c = self._connector_with_tx(p["transactionId"])
        if c is None:
            return {"status": "Rejected"}
        return Reply({"status": "Accepted"}, lambda: self.st.stop_transaction(c, "Remote"))

    async def on_Reset(self, p: dict[str, Any]) -> dict[str, Any] | Reply:
        reason = "HardReset" if p["type"] == "Hard" else "SoftReset"
        return Reply({"status": "Accepted"}, lambda: self.st.reboot(reason))

    async def on_ChangeAvailability(self, p: dict[str, Any]) -> dict[str, Any] | Reply:
        cid, operative = p["connectorId"], p["type"] == "Operative"
        if cid != 0 and cid not in self.st.connectors:
            return {"status": "Rejected"}
        targets = list(self.st.connectors.values()) if cid == 0 else [self.st.connectors[cid]]
        busy = not operative and any(c.tx is not None for c in targets)
        status = "Scheduled" if busy else "Accepted"
        return Reply({"status": status}, lambda: self.st.set_operative(cid, operative))

    async def on_GetConfiguration(self, p: dict[str, Any]) -> dict[str, Any]:
        keys = p.get("key") or list(self.settings)
        known = [
            {"key": k, "readonly": self.settings[k][1], "value": self.settings[k][0]}
            for k in keys
            if k in self.settings
        ]
        unknown = [k for k in keys if k not in self.settings]
        out: dict[str, Any] = {"configurationKey": known}
        if unknown:
            out["unknownKey"] = unknown
        return out

    async def on_ChangeConfiguration(self, p: dict[str, Any]) -> dict[str, Any]:
        key, value = p["key"], p["value"]
        if key not in self.settings:
            return {"status": "NotSupported"}
        if self.settings[key][1]:
            return {"status": "Rejected"}
        if key in ("HeartbeatInterval", "MeterValueSampleInterval", "ConnectionTimeOut"):
            try:
                seconds = float(value)
            except ValueError:
                return {"status": "Rejected"}
            # MeterValueSampleInterval 0 means "no sampled data" (1.6 §3.16.1)
            if seconds < 0 or (seconds == 0 and key != "MeterValueSampleInterval"):
                return {"status": "Rejected"}
            if key == "HeartbeatInterval":
                self.st.heartbeat_interval_s = seconds
            if key == "MeterValueSampleInterval":
                self.st.meter_interval_s = seconds
        self.settings[key] = (value, False)
        return {"status": "Accepted"}

    async def on_TriggerMessage(self, p: dict[str, Any]) -> dict[str, Any] | Reply:
        what, cid = p["requestedMessage"], p.get("connectorId")
        if cid is not None and cid != 0 and cid not in self.st.connectors:
            return {"status": "Rejected"}
        targets = [self.st.connectors[cid]] if cid else list(self.st.connectors.values())

        async def send() -> None:
            if what == "BootNotification":
                assert self.st.conn is not None
                await self.boot(self.st.conn, "Triggered")
            elif what == "Heartbeat":
                await self.st.call("Heartbeat", {})
            elif what == "StatusNotification":
                for c in targets:
                    await self._status(c.connector_id, self.status_of(c))
            elif what == "MeterValues":
                self.st.advance()
                for c in targets:
                    mv = meter_value(
                        self.st.config, c, self.st.clock.now(), "Trigger", as_text=True
                    )
                    await self.st.call(
                        "MeterValues", {"connectorId": c.connector_id, "meterValue": [mv]}
                    )
            elif what == "DiagnosticsStatusNotification":
                await self.st.call("DiagnosticsStatusNotification", {"status": "Idle"})
            elif what == "FirmwareStatusNotification":
                await self.st.call("FirmwareStatusNotification", {"status": "Idle"})

        return Reply({"status": "Accepted"}, send)

    async def on_UnlockConnector(self, p: dict[str, Any]) -> dict[str, Any] | Reply:
        c = self.st.connectors.get(p["connectorId"])
        if c is None:
            return {"status": "NotSupported"}
        if c.tx is not None:
            return Reply(
                {"status": "Unlocked"}, lambda: self.st.stop_transaction(c, "UnlockCommand")
            )
        return {"status": "Unlocked"}

    async def on_SetChargingProfile(self, p: dict[str, Any]) -> dict[str, Any]:
        profile = profile_from_v16(p["csChargingProfiles"], p["connectorId"], self.st.clock.now())
        if profile.purpose == "tx" and profile.transaction_id is not None and p["connectorId"] > 0:
            c = self.st.connectors.get(p["connectorId"])
            if c is not None and c.tx is not None and c.tx.csms_id is None:
                return {"status": "Rejected"}  # transaction id not known yet (offline start)
        return {"status": "Accepted" if set_profile(self.st, profile).accepted else "Rejected"}

    async def on_ClearChargingProfile(self, p: dict[str, Any]) -> dict[str, Any]:
        purpose = p.get("chargingProfilePurpose")
        cleared = clear_profiles(
            self.st,
            profile_id=p.get("id"),
            connector_id=p.get("connectorId"),
            purpose=None if purpose is None else PURPOSE_16[purpose],
            stack_level=p.get("stackLevel"),
        )
        return {"status": "Accepted" if cleared else "Unknown"}

    async def on_GetCompositeSchedule(self, p: dict[str, Any]) -> dict[str, Any]:
        comp = composite(self.st, p["connectorId"], p["duration"], p.get("chargingRateUnit"))
        if comp is None:
            return {"status": "Rejected"}
        return {
            "status": "Accepted",
            "connectorId": p["connectorId"],
            "scheduleStart": format_time(comp.start),
            "chargingSchedule": quirk_schedule(self.st, composite_to_v16(comp)),
        }

    async def on_ClearCache(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"status": "Accepted"}

    async def on_DataTransfer(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"status": "UnknownVendorId"}
