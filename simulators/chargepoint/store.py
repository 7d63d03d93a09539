"""The charging profiles installed on a station, with the checks a charger applies
on SetChargingProfile / ClearChargingProfile (including the quirk switches)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from simulators.chargepoint.config import StationConfig
from simulators.profiles import (
    Composite,
    Period,
    Profile,
    RateUnit,
    Schedule,
    TxContext,
    composite_schedule,
)


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str = ""  # reasonCode for 2.0.1 statusInfo, log text for 1.6


ACCEPTED = Verdict(True)


class ProfileStore:
    def __init__(self, config: StationConfig):
        self.config = config
        self.profiles: list[Profile] = []
        self.pending_tx: list[Profile] = []  # lenient stations: TxProfile for the next tx

    # SetChargingProfile ---------------------------------------------------------
    def check(self, p: Profile, *, tx_running: bool, tx_matches: bool) -> Verdict:
        """Whether the station accepts ``p``; does not install it."""
        q = self.config.quirks
        if q.external_load_management_disabled:
            return Verdict(False, "ExternalLoadManagementDisabled")
        if p.purpose == "external":
            return Verdict(False, "ExternalConstraintsAreLocal")  # never set by a CSMS
        if p.stack_level > q.max_stack_level:
            return Verdict(False, "StackLevelTooHigh")
        if len(p.schedule.periods) > q.max_schedule_periods:
            return Verdict(False, "TooManyPeriods")
        if q.rate_units != "both" and p.schedule.unit != q.rate_units:
            return Verdict(False, "UnsupportedRateUnit")
        if not p.schedule.periods or p.schedule.periods[0].start_s != 0:
            return Verdict(False, "FirstPeriodMustStartAtZero")
        if p.purpose == "station_max":
            if q.refuses_station_max_profile:
                return Verdict(False, "StationMaxProfileNotSupported")
            if p.connector_id != 0:
                return Verdict(False, "StationMaxOnlyOnConnector0")
        if p.purpose == "tx":
            if p.connector_id == 0:
                return Verdict(False, "TxProfileNeedsConnector")
            if not tx_running and q.refuses_tx_profile_without_transaction:
                return Verdict(False, "NoTransaction")
            if tx_running and not tx_matches:
                return Verdict(False, "UnknownTransaction")
        if p.connector_id > self.config.connectors:
            return Verdict(False, "UnknownConnector")
        if self.config.ocpp_version == "2.0.1" and any(
            self._conflicts(p, o) for o in self.profiles
        ):
            return Verdict(False, "DuplicateProfile")
        replaced = sum(1 for old in self.profiles if self._replaces(p, old))
        if len(self.profiles) - replaced >= q.max_profiles_installed:
            return Verdict(False, "TooManyProfiles")
        return ACCEPTED

    def _conflicts(self, new: Profile, old: Profile) -> bool:
        # 2.0.1 K01.FR.06: same purpose + stack level on the same EVSE with overlapping
        # validity but another id is rejected (1.6 replaces it instead)
        if old.profile_id == new.profile_id or new.purpose == "tx":
            return False
        if (old.purpose, old.stack_level, old.connector_id) != (
            new.purpose,
            new.stack_level,
            new.connector_id,
        ):
            return False
        starts_before_end = (
            old.valid_to is None or new.valid_from is None or new.valid_from < old.valid_to
        )
        ends_after_start = (
            new.valid_to is None or old.valid_from is None or old.valid_from < new.valid_to
        )
        return starts_before_end and ends_after_start

    def _replaces(self, new: Profile, old: Profile) -> bool:
        # same id; in 1.6 (§3.13.2) also same purpose + stack level on the same connector
        return old.profile_id == new.profile_id or (
            self.config.ocpp_version == "1.6"
            and old.purpose == new.purpose
            and old.stack_level == new.stack_level
            and old.connector_id == new.connector_id
        )

    def install(self, p: Profile, *, tx_running: bool) -> None:
        self.profiles = [old for old in self.profiles if not self._replaces(p, old)]
        self.pending_tx = [old for old in self.pending_tx if old.profile_id != p.profile_id]
        if p.purpose == "tx" and not tx_running:
            self.pending_tx.append(p)
        else:
            self.profiles.append(p)

    def start_transaction(self, connector_id: int, transaction_id: str | None) -> None:
        """Move TxProfiles kept for the next transaction (lenient stations) onto it."""
        for p in [p for p in self.pending_tx if p.connector_id == connector_id]:
            self.pending_tx.remove(p)
            self.install(_with_tx(p, transaction_id), tx_running=True)

    def end_transaction(self, connector_id: int) -> None:
        """TxProfiles end with their transaction (both versions)."""
        self.profiles = [
            p for p in self.profiles if not (p.purpose == "tx" and p.connector_id == connector_id)
        ]

    # ClearChargingProfile -----------------------------------------------------------
    def clear(
        self,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> bool:
        """Remove matching profiles; True when any was removed (Accepted), else Unknown."""
        if profile_id is None and self.config.quirks.clear_by_criteria_unknown:
            return False

        def matches(p: Profile) -> bool:
            if p.purpose == "external":
                return False  # the CSMS cannot clear local constraints
            if profile_id is not None:
                return p.profile_id == profile_id
            return (
                (connector_id is None or p.connector_id == connector_id)
                and (purpose is None or p.purpose == purpose)
                and (stack_level is None or p.stack_level == stack_level)
            )

        before = len(self.profiles) + len(self.pending_tx)
        self.profiles = [p for p in self.profiles if not matches(p)]
        self.pending_tx = [p for p in self.pending_tx if not matches(p)]
        return len(self.profiles) + len(self.pending_tx) < before

    def reset(self) -> None:
        self.profiles = []
        self.pending_tx = []

    def set_external_limit(
        self, limit: float | None, unit: RateUnit, evse_id: int, now: datetime
    ) -> None:
        """Install (or with None remove) a local EMS limit as a
        ChargingStationExternalConstraints profile."""
        self.profiles = [
            p for p in self.profiles if not (p.purpose == "external" and p.connector_id == evse_id)
        ]
        if limit is not None:
            schedule = Schedule(unit=unit, periods=(Period(0, limit),), start=now)
            self.profiles.append(
                Profile(-1 - evse_id, 0, "external", "Absolute", schedule, connector_id=evse_id)
            )

    # schedules ------------------------------------------------------------------
    def composite(
        self,
        connector_id: int,
        start: datetime,
        duration_s: int,
        unit: RateUnit,
        tx: TxContext | None = None,
    ) -> Composite:
        return composite_schedule(
            self.profiles,
            connector_id=connector_id,
            start=start,
            duration_s=duration_s,
            unit=unit,
            electrical=self.config.electrical(connector_id),
            tx=tx,
        )


def _with_tx(p: Profile, transaction_id: str | None) -> Profile:
    return replace(p, transaction_id=transaction_id)
