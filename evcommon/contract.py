"""The MQTT contract between the CSMS and the edge controller (version 1).

This module is the single source of truth for topics and payloads; both sides
import it and neither imports the other's internals. docs/mqtt-contract.md
describes it with examples.

Conventions
-----------
* All topics start with a prefix, ``evsite/v1`` by default; the ``v1`` is the
  contract version. A breaking change gets a new module version and prefix.
* Payloads are JSON objects (UTF-8). Times are ISO 8601 in UTC. Units are in
  the field names (``power_kw``, ``energy_kwh``, ``current_a``).
* ``connector_id`` is the OCPP 1.6 connector id or the OCPP 2.0.1 EVSE id;
  ``0`` means the whole station.
* State topics (station, connector status, meter, EV needs) are *retained*, so
  a restarting edge sees the whole site at once. Event topics are not.
* Commands go to ``{prefix}/commands/{station_id}``. Each carries a
  ``correlation_id`` and gets exactly one :class:`CommandReply`: on the MQTT 5
  response topic with the request's correlation data when given, otherwise
  on the ``reply_to`` topic named in the payload. Event payloads ignore
  unknown fields (forward compatible); command payloads reject them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from evcommon.errors import ContractError

CONTRACT_VERSION = 1
DEFAULT_PREFIX = "evsite/v1"

OcppVersion = Literal["1.6", "2.0.1"]
LimitPurpose = Literal["station_max", "tx_default", "tx"]
ErrorCode = Literal[
    "invalid_command",
    "unknown_station",
    "station_offline",
    "rejected",
    "timeout",
    "not_supported",
    "internal",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Topics:
    """Topic names under one prefix."""

    def __init__(self, prefix: str = DEFAULT_PREFIX):
        self.prefix = prefix.rstrip("/")

    # -- CSMS -> edge: state (retained) and events --------------------------
    def station_state(self, station_id: str) -> str:
        return f"{self.prefix}/stations/{station_id}/state"

    def connector_status(self, station_id: str, connector_id: int) -> str:
        return f"{self.prefix}/stations/{station_id}/connectors/{connector_id}/status"

    def connector_meter(self, station_id: str, connector_id: int) -> str:
        return f"{self.prefix}/stations/{station_id}/connectors/{connector_id}/meter"

    def ev_needs(self, station_id: str, connector_id: int) -> str:
        return f"{self.prefix}/stations/{station_id}/connectors/{connector_id}/ev_needs"

    def driver_request(self, station_id: str, connector_id: int) -> str:
        """Retained :class:`EVChargingNeeds` with ``source="driver"`` (the driver's request)."""
        return f"{self.prefix}/stations/{station_id}/connectors/{connector_id}/driver_request"

    def transactions(self, station_id: str) -> str:
        return f"{self.prefix}/stations/{station_id}/transactions"

    def profiles(self, station_id: str) -> str:
        return f"{self.prefix}/stations/{station_id}/profiles"

    def alarms(self, station_id: str) -> str:
        return f"{self.prefix}/stations/{station_id}/alarms"

    @property
    def all_stations(self) -> str:
        return f"{self.prefix}/stations/#"

    # -- edge -> CSMS: commands and replies --------------------------------
    def commands(self, station_id: str) -> str:
        return f"{self.prefix}/commands/{station_id}"

    @property
    def all_commands(self) -> str:
        return f"{self.prefix}/commands/+"

    def replies(self, client_id: str) -> str:
        return f"{self.prefix}/replies/{client_id}"

    # -- services and sites --------------------------------------------------
    @property
    def csms_state(self) -> str:
        return f"{self.prefix}/csms/state"

    def edge_state(self, site_id: str) -> str:
        return f"{self.prefix}/sites/{site_id}/edge/state"

    def site_meter(self, site_id: str, meter: str) -> str:
        """Default topic of a site meter in the documented meter format."""
        return f"{self.prefix}/sites/{site_id}/meters/{meter}"

    def assignments(self, site_id: str) -> str:
        return f"{self.prefix}/sites/{site_id}/assignments"

    def arrivals(self, site_id: str) -> str:
        """Vehicle-arrival requests to site (:class:`ArrivalRequest`); ``+`` for any site."""
        return f"{self.prefix}/sites/{site_id}/arrivals"

    def limits(self, site_id: str) -> str:
        """The edge publishes each tick's decided limits here (for dashboards)."""
        return f"{self.prefix}/sites/{site_id}/limits"

    def site_plan(self, site_id: str) -> str:
        """Retained :class:`SitePlan`: the edge's current plan per connector and for the site."""
        return f"{self.prefix}/sites/{site_id}/plan"


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")
    ts: datetime = Field(default_factory=utcnow)

    @field_validator("ts", mode="after")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


# ---------------------------------------------------------------------------
# Events and state, CSMS -> edge
# ---------------------------------------------------------------------------
class ServiceState(_Event):
    """Retained liveness of a daemon; the broker publishes online=false as its will."""

    online: bool
    version: str | None = None


class StationState(_Event):
    station_id: str
    online: bool
    ocpp_version: OcppVersion | None = None
    vendor: str | None = None
    model: str | None = None
    firmware_version: str | None = None
    boot_status: str | None = None


class ConnectorStatus(_Event):
    station_id: str
    connector_id: int
    status: str  # as reported: 1.6 ChargePointStatus or 2.0.1 ConnectorStatusEnum
    error_code: str | None = None
    transaction_id: str | None = None


class MeterValuesEvent(_Event):
    """One normalised sample; ``ts`` is the CSMS receive time, ``sampled_at`` the station's."""

    station_id: str
    connector_id: int
    transaction_id: str | None = None
    sampled_at: datetime | None = None
    context: str | None = None
    power_kw: float | None = None
    energy_kwh: float | None = None
    current_a: float | None = None
    voltage_v: float | None = None
    soc_pct: float | None = None
    offered_kw: float | None = None
    power_kw_phases: dict[str, float] | None = None
    current_a_phases: dict[str, float] | None = None


class TransactionEvent(_Event):
    station_id: str
    connector_id: int
    transaction_id: str
    event: Literal["started", "updated", "ended"]
    id_token: str | None = None
    meter_start_kwh: float | None = None
    meter_stop_kwh: float | None = None
    energy_kwh: float | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    stop_reason: str | None = None


class EVChargingNeeds(_Event):
    station_id: str
    connector_id: int
    departure_time: datetime | None = None
    energy_amount_kwh: float | None = None
    ev_max_power_kw: float | None = None
    ev_min_power_kw: float | None = None
    ev_max_current_a: float | None = None
    ev_min_current_a: float | None = None
    energy_transfer_mode: str | None = None
    # Who said it: the EV (ISO 15118 via 2.0.1 NotifyEVChargingNeeds) or the driver (the
    # request page / API). Driver requests travel on ``Topics.driver_request``.
    source: Literal["ev", "driver"] = "ev"
    transaction_id: str | None = None
    # Driver requests only: ``opt_out`` = charge at normal power, leave smart control;
    # ``withdrawn`` = the request was taken back (the session charges as if none was made).
    opt_out: bool = False
    withdrawn: bool = False


class ProfileEvent(_Event):
    station_id: str
    connector_id: int
    event: Literal[
        "installed", "rejected", "cleared", "reinstalled", "mismatch", "load_management_disabled"
    ]
    purpose: LimitPurpose | None = None
    profile_id: int | None = None
    limit_kw: float | None = None
    valid_to: datetime | None = None
    reason: str | None = None


class Alarm(_Event):
    station_id: str
    connector_id: int
    kind: Literal["over_limit", "profile_rejected", "other"]
    message: str
    measured_kw: float | None = None
    limit_kw: float | None = None


# ---------------------------------------------------------------------------
# Site meters (simulators or real gateways -> edge) and edge outputs
# ---------------------------------------------------------------------------
class SiteMeterReading(_Event):
    """The documented meter format. Positive power is consumption/import."""

    power_kw: float
    energy_import_kwh: float | None = None
    energy_export_kwh: float | None = None
    soc_pct: float | None = None


class Assignment(_Event):
    site_id: str
    vehicle_id: str
    station_id: str
    connector_id: int
    node: str | None = None
    window_start: datetime
    window_end: datetime
    method: str
    note: str | None = None


class ArrivalRequest(_Event):
    """An incoming vehicle to site (fleet system, driver app): answered by an Assignment.

    Give ``energy_kwh``, or ``battery_kwh`` with both SOCs."""

    vehicle_id: str = Field(min_length=1)
    arrival: datetime
    departure: datetime
    energy_kwh: float | None = Field(default=None, ge=0)
    battery_kwh: float | None = Field(default=None, gt=0)
    soc_arrival_pct: float | None = Field(default=None, ge=0, le=100)
    soc_departure_pct: float | None = Field(default=None, ge=0, le=100)
    max_power_kw: float | None = Field(default=None, gt=0)
    flexible_departure: bool = False
    group: str | None = None
    site_id: str | None = None  # preferred site when one controller runs several


class SiteLimits(_Event):
    site_id: str
    limits_kw: dict[str, float]  # "station_id/connector_id" -> kW
    reasons: dict[str, str] = Field(default_factory=dict)


class PlanEntry(BaseModel):
    """One connector's part of the edge's plan."""

    model_config = ConfigDict(extra="ignore")
    station_id: str
    connector_id: int
    transaction_id: str | None = None
    limit_kw: float | None = None  # the limit in force now
    reason: str | None = None  # rule / plan / safe / override / uncontrolled ...
    expected_finish_at: datetime | None = None  # when the plan delivers the target
    target_energy_kwh: float | None = None  # what the plan aims to deliver this session
    planned_energy_kwh: float | None = None  # what the plan delivers by departure
    departure_at: datetime | None = None
    request_source: Literal["ev", "driver", "group_default", "guess"] | None = None
    power_kw: list[float] = Field(default_factory=list)  # per interval from ``start``


class SitePlan(_Event):
    """Retained: the edge's current plan (published after every planning tick)."""

    site_id: str
    start: datetime
    interval_s: int = Field(gt=0)
    site_power_kw: list[float] = Field(default_factory=list)  # planned site import per interval
    import_limit_kw: float | None = None
    planner: str | None = None
    status: str | None = None
    gap: float | None = None  # proven relative optimality gap, when the planner knows it
    connectors: list[PlanEntry] = Field(default_factory=list)


# ---------------------------------------------------------------------------
# Commands, edge -> CSMS, and the one reply each gets
# ---------------------------------------------------------------------------
class SchedulePeriod(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start_s: int = Field(ge=0, description="offset from the schedule start, seconds")
    limit_kw: float = Field(ge=0)


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")
    correlation_id: str = Field(min_length=1)
    station_id: str = Field(min_length=1)
    reply_to: str | None = None
    # who sent it (the edge's MQTT client id, an operator's account): the CSMS records it
    # in its audit log. MQTT does not tell the receiver who published; the broker's ACL
    # decides who may publish commands at all.
    issued_by: str | None = Field(default=None, max_length=64)


class SetLimit(_Command):
    """Limit a connector (or the whole station, connector 0) in kW until ``valid_to``."""

    command: Literal["set_limit"] = "set_limit"
    connector_id: int = Field(default=0, ge=0)
    purpose: LimitPurpose = "tx_default"
    limit_kw: float | None = Field(default=None, ge=0)
    schedule: list[SchedulePeriod] | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    stack_level: int | None = Field(default=None, ge=0)
    number_phases: int | None = Field(default=None, ge=1, le=3)
    # added in v1 (optional): profile kind; max profiles are always sent absolute
    kind: Literal["absolute", "relative", "daily", "weekly"] | None = None

    def periods(self) -> list[SchedulePeriod]:
        if self.schedule:
            return self.schedule
        if self.limit_kw is None:
            raise ContractError("set_limit needs limit_kw or schedule")
        return [SchedulePeriod(start_s=0, limit_kw=self.limit_kw)]


class InstallSafeLimits(_Command):
    """Install the station's own fallback: max profile and TxDefault with no expiry."""

    command: Literal["install_safe_limits"] = "install_safe_limits"
    station_max_kw: float | None = Field(default=None, ge=0)
    connector_default_kw: float = Field(ge=0)


class ClearLimit(_Command):
    command: Literal["clear_limit"] = "clear_limit"
    connector_id: int | None = Field(default=None, ge=0)
    purpose: LimitPurpose | None = None
    profile_id: int | None = None


class GetCompositeSchedule(_Command):
    command: Literal["get_composite_schedule"] = "get_composite_schedule"
    connector_id: int = Field(default=0, ge=0)
    duration_s: int = Field(default=3600, gt=0)
    rate_unit: Literal["W", "A"] | None = None


class RemoteStart(_Command):
    command: Literal["remote_start"] = "remote_start"
    connector_id: int | None = Field(default=None, ge=1)
    id_token: str = Field(min_length=1)


class RemoteStop(_Command):
    command: Literal["remote_stop"] = "remote_stop"
    transaction_id: str = Field(min_length=1)


class Reset(_Command):
    command: Literal["reset"] = "reset"
    kind: Literal["soft", "hard"] = "soft"


class ChangeAvailability(_Command):
    command: Literal["change_availability"] = "change_availability"
    connector_id: int = Field(default=0, ge=0)
    available: bool


class TriggerMessage(_Command):
    command: Literal["trigger_message"] = "trigger_message"
    message: str = Field(min_length=1)
    connector_id: int | None = Field(default=None, ge=0)


Command = Annotated[
    SetLimit
    | InstallSafeLimits
    | ClearLimit
    | GetCompositeSchedule
    | RemoteStart
    | RemoteStop
    | Reset
    | ChangeAvailability
    | TriggerMessage,
    Field(discriminator="command"),
]
COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


class CommandErrorBody(BaseModel):
    code: ErrorCode
    message: str


class CommandReply(_Event):
    correlation_id: str
    ok: bool
    data: dict[str, Any] | None = None
    error: CommandErrorBody | None = None

    @classmethod
    def success(cls, correlation_id: str, data: dict[str, Any] | None = None) -> CommandReply:
        return cls(correlation_id=correlation_id, ok=True, data=data or {})

    @classmethod
    def failure(cls, correlation_id: str, code: ErrorCode, message: str) -> CommandReply:
        return cls(
            correlation_id=correlation_id,
            ok=False,
            error=CommandErrorBody(code=code, message=message),
        )


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------
M = TypeVar("M", bound=BaseModel)


def encode(model: BaseModel) -> bytes:
    return orjson.dumps(model.model_dump(mode="json", exclude_none=True))


def decode(cls: type[M], payload: bytes | bytearray | str) -> M:
    try:
        return cls.model_validate_json(payload)
    except ValidationError as exc:
        raise ContractError(_describe(exc)) from exc


def parse_command(payload: bytes | bytearray | str) -> Command:
    """Parse a command; :class:`ContractError` names the problem field(s)."""
    try:
        return COMMAND_ADAPTER.validate_json(payload)
    except ValidationError as exc:
        raise ContractError(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "payload"
        if err["type"] == "extra_forbidden":
            parts.append(f"{loc}: unknown field")
        elif err["type"] == "missing":
            parts.append(f"{loc}: required field is missing")
        else:
            parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
