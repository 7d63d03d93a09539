"""OCPP 2.0.1: the CSMS requests a station answers (a mixin of V201Adapter)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulators.chargepoint import devicemodel
from simulators.chargepoint.connector import Connector
from simulators.chargepoint.meter import meter_value
from simulators.chargepoint.smart import clear_profiles, composite, quirk_schedule, set_profile
from simulators.chargepoint.transport import OcppError, Reply
from simulators.profiles import composite_to_v201, format_time, profile_from_v201
from simulators.profiles.parse import PURPOSE_201

if TYPE_CHECKING:
    from simulators.chargepoint.station import SimStation

PURPOSE_TO_201 = {v: k for k, v in PURPOSE_201.items()}


class V201Handlers:
    st: SimStation
    dm: dict[devicemodel.Key, devicemodel.Variable]

    def status_of(self, c: Connector) -> str:
        raise NotImplementedError

    async def _status(self, c: Connector, status: str) -> None:
        raise NotImplementedError

    async def handle(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | Reply:
        method = getattr(self, f"on_{action}", None)
        if method is None:
            raise OcppError("NotSupported", f"{action} is not supported by this station")
        result: dict[str, Any] | Reply = await method(payload)
        return result

    def _tx_connector(self, tx_id: str) -> Connector | None:
        for c in self.st.connectors.values():
            if c.tx is not None and c.tx.csms_id == tx_id:
                return c
        return None

    async def on_RequestStartTransaction(self, p: dict[str, Any]) -> dict[str, Any] | Reply:
        evse_id = p.get("evseId")
        candidates = (
            [self.st.connectors.get(evse_id)] if evse_id else list(self.st.connectors.values())
        )
        free = [c for c in candidates if c is not None and c.tx is None and c.operative]
        profile = p.get("chargingProfile")
        if not free or (
            profile is not None and profile.get("chargingProfilePurpose") != "TxProfile"
        ):
            return {"status": "Rejected"}
        plugged = [c for c in free if c.ev is not None]
        c = (plugged or free)[0]
        token, remote_id = p["idToken"]["idToken"], p["remoteStartId"]
        if c.ev is None:
            self.st.await_cable(c, token, remote_id)
            return {"status": "Accepted"}

        async def start() -> None:
            tx = await self.st.start_transaction(c, token, remote_start_id=remote_id)
            if profile is not None:
                data = {**profile, "transactionId": tx.csms_id}
                set_profile(self.st, profile_from_v201(data, c.connector_id, self.st.clock.now()))

        return Reply({"status": "Accepted"}, start)

    async def on_RequestStopTransaction(self, p: dict[str, Any]) -> dict[str, Any] | Reply:
        c = self._tx_connector(p["transactionId"])
        if c is None:
            return {"status": "Rejected"}
        return Reply({"status": "Accepted"}, lambda: self.st.stop_transaction(c, "Remote"))

    async def on_Reset(self, p: dict[str, Any]) -> dict[str, Any] | Reply:
        if p.get("evseId"):
            return {"status": "Rejected"}  # resetting a single EVSE is not supported
        busy = any(c.tx is not None for c in self.st.connectors.values())
        if p["type"] == "OnIdle" and busy:
            self.st.reset_when_idle = True  # reboots when the last transaction ends
            return {"status": "Scheduled"}
        return Reply({"status": "Accepted"}, lambda: self.st.reboot("ImmediateReset"))

    async def on_ChangeAvailability(self, p: dict[str, Any]) -> dict[str, Any] | Reply:
        evse_id = (p.get("evse") or {}).get("id", 0)
        operative = p["operationalStatus"] == "Operative"
        if evse_id != 0 and evse_id not in self.st.connectors:
            return {"status": "Rejected"}
        targets = (
            list(self.st.connectors.values()) if evse_id == 0 else [self.st.connectors[evse_id]]
        )
        busy = not operative and any(c.tx is not None for c in targets)
        return Reply(
            {"status": "Scheduled" if busy else "Accepted"},
            lambda: self.st.set_operative(evse_id, operative),
        )

    async def on_GetVariables(self, p: dict[str, Any]) -> dict[str, Any]:
        results = []
        for item in p["getVariableData"]:
            key = devicemodel.key_of(item["component"], item["variable"])
            result: dict[str, Any] = {"component": item["component"], "variable": item["variable"]}
            status = devicemodel.lookup_status(self.dm, key)
            if status == "Accepted" and item.get("attributeType", "Actual") != "Actual":
                status = "NotSupportedAttributeType"
            result["attributeStatus"] = status
            if status == "Accepted":
                result["attributeValue"] = self.dm[key].value
            if "attributeType" in item:
                result["attributeType"] = item["attributeType"]
            results.append(result)
        return {"getVariableResult": results}

    async def on_SetVariables(self, p: dict[str, Any]) -> dict[str, Any]:
        results = []
        for item in p["setVariableData"]:
            key = devicemodel.key_of(item["component"], item["variable"])
            status = devicemodel.lookup_status(self.dm, key)
            if status == "Accepted":
                var, value = self.dm[key], str(item["attributeValue"])
                if item.get("attributeType", "Actual") != "Actual":
                    status = "NotSupportedAttributeType"
                elif var.read_only or not devicemodel.valid_value(var, value):
                    status = "Rejected"
                else:
                    var.value = value
                    if key[0] == "OCPPCommCtrlr" and key[2] == "HeartbeatInterval":
                        self.st.heartbeat_interval_s = float(value)
                    if key[0] == "SampledDataCtrlr" and key[2] == "TxUpdatedInterval":
                        self.st.meter_interval_s = float(value)  # 0: no periodic samples
            result = {
                "attributeStatus": status,
                "component": item["component"],
                "variable": item["variable"],
            }
            if "attributeType" in item:
                result["attributeType"] = item["attributeType"]
            results.append(result)
        return {"setVariableResult": results}

    async def on_GetBaseReport(self, p: dict[str, Any]) -> dict[str, Any] | Reply:
        data = devicemodel.report_data(self.dm)
        if p["reportBase"] == "ConfigurationInventory":
            data = [d for d in data if d["variableAttribute"][0]["mutability"] == "ReadWrite"]
        request_id = p["requestId"]

        async def send() -> None:
            chunk = 100
            for seq, i in enumerate(range(0, len(data), chunk)):
                await self.st.call(
                    "NotifyReport",
                    {
                        "requestId": request_id,
                        "generatedAt": format_time(self.st.clock.now()),
                        "seqNo": seq,
                        "tbc": i + chunk < len(data),
                        "reportData": data[i : i + chunk],
                    },
                )

        return Reply({"status": "Accepted"}, send)

    async def on_TriggerMessage(self, p: dict[str, Any]) -> dict[str, Any] | Reply:
        what = p["requestedMessage"]
        evse_id = (p.get("evse") or {}).get("id")
        if evse_id is not None and evse_id not in self.st.connectors:
            return {"status": "Rejected"}
        targets = [self.st.connectors[evse_id]] if evse_id else list(self.st.connectors.values())
        supported = {
            "BootNotification", "Heartbeat", "StatusNotification", "MeterValues",
            "TransactionEvent", "FirmwareStatusNotification", "LogStatusNotification",
        }  # fmt: skip
        if what not in supported:
            return {"status": "NotImplemented"}

        async def send() -> None:
            st = self.st
            if what == "BootNotification" and st.conn is not None:
                await st.call(
                    "BootNotification",
                    {
                        "reason": "Triggered",
                        "chargingStation": {
                            "model": st.config.model_name,
                            "vendorName": st.config.vendor,
                        },
                    },
                )
            elif what == "Heartbeat":
                await st.call("Heartbeat", {})
            elif what == "StatusNotification":
                for c in targets:
                    await self._status(c, self.status_of(c))
            elif what == "MeterValues":
                st.advance()
                for c in targets:
                    mv = meter_value(st.config, c, st.clock.now(), "Trigger", as_text=False)
                    await st.call("MeterValues", {"evseId": c.connector_id, "meterValue": [mv]})
            elif what == "TransactionEvent":
                st.advance()
                for c in targets:
                    if c.tx is not None:
                        self._event(c, "Updated", "Trigger", meter=True, context="Trigger")  # type: ignore[attr-defined]
            elif what == "FirmwareStatusNotification":
                await st.call("FirmwareStatusNotification", {"status": "Idle"})
            elif what == "LogStatusNotification":
                await st.call("LogStatusNotification", {"status": "Idle"})

        return Reply({"status": "Accepted"}, send)

    async def on_UnlockConnector(self, p: dict[str, Any]) -> dict[str, Any]:
        c = self.st.connectors.get(p["evseId"])
        if c is None or p["connectorId"] != 1:
            return {"status": "UnknownConnector"}
        if c.tx is not None:
            return {"status": "OngoingAuthorizedTransaction"}
        return {"status": "Unlocked"}

    async def on_SetChargingProfile(self, p: dict[str, Any]) -> dict[str, Any]:
        data = p["chargingProfile"]
        start = data["chargingSchedule"][0].get("startSchedule")
        if (data["chargingProfileKind"] == "Relative") == (start is not None):
            # K01.FR.40/41: Absolute/Recurring need startSchedule, Relative must not have one
            return {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidSchedule"}}
        # the spec wants a transactionId on every TxProfile; lenient stations take it anyway
        if (
            data["chargingProfilePurpose"] == "TxProfile"
            and "transactionId" not in data
            and self.st.config.quirks.refuses_tx_profile_without_transaction
        ):
            return {"status": "Rejected", "statusInfo": {"reasonCode": "TxNotFound"}}
        verdict = set_profile(self.st, profile_from_v201(data, p["evseId"], self.st.clock.now()))
        if verdict.accepted:
            return {"status": "Accepted"}
        return {"status": "Rejected", "statusInfo": {"reasonCode": verdict.reason[:20]}}

    async def on_ClearChargingProfile(self, p: dict[str, Any]) -> dict[str, Any]:
        crit = p.get("chargingProfileCriteria") or {}
        purpose = crit.get("chargingProfilePurpose")
        if purpose == "ChargingStationExternalConstraints":
            return {"status": "Unknown"}
        cleared = clear_profiles(
            self.st,
            profile_id=p.get("chargingProfileId"),
            connector_id=crit.get("evseId"),
            purpose=None if purpose is None else PURPOSE_201[purpose],
            stack_level=crit.get("stackLevel"),
        )
        return {"status": "Accepted" if cleared else "Unknown"}

    async def on_GetCompositeSchedule(self, p: dict[str, Any]) -> dict[str, Any]:
        comp = composite(self.st, p["evseId"], p["duration"], p.get("chargingRateUnit"))
        if comp is None:
            return {"status": "Rejected"}
        return {
            "status": "Accepted",
            "schedule": quirk_schedule(self.st, composite_to_v201(comp, p["evseId"])),
        }

    async def on_GetChargingProfiles(self, p: dict[str, Any]) -> dict[str, Any] | Reply:
        crit, evse_id = p["chargingProfile"], p.get("evseId")
        ids = crit.get("chargingProfileId")
        purpose = crit.get("chargingProfilePurpose")
        found = [
            prof
            for prof in self.st.store.profiles
            if (evse_id is None or prof.connector_id == evse_id)
            and (ids is None or prof.profile_id in ids)
            and (purpose is None or PURPOSE_TO_201[prof.purpose] == purpose)
            and (crit.get("stackLevel") is None or prof.stack_level == crit["stackLevel"])
        ]
        if not found:
            return {"status": "NoProfiles"}
        by_evse: dict[int, list[dict[str, Any]]] = {}
        for prof in found:
            by_evse.setdefault(prof.connector_id, []).append(prof.raw)
        request_id = p["requestId"]

        async def send() -> None:
            items = sorted(by_evse.items())
            for n, (evse, raws) in enumerate(items):
                await self.st.call(
                    "ReportChargingProfiles",
                    {
                        "requestId": request_id,
                        "chargingLimitSource": "CSO",
                        "evseId": evse,
                        "chargingProfile": raws,
                        "tbc": n + 1 < len(items),
                    },
                )

        return Reply({"status": "Accepted"}, send)

    async def on_ClearCache(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"status": "Accepted"}

    async def on_DataTransfer(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"status": "UnknownVendorId"}
