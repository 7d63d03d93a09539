"""The edge controller's site configuration: one typed tree, validated once at start-up.

TOML file plus environment overrides (prefix ``EDGE_``, nested with ``__``, e.g.
``EDGE_MQTT__HOST=broker.local``). Every unknown or invalid key stops start-up
with a message naming it (:func:`load_site_config`). docs/edge.md lists every key.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from edge.optimizer.config import OptimizerSection
from edge.siting.config import SitingSection
from evcommon.config import Section, SettingsBase, load_settings
from evcommon.contract import DEFAULT_PREFIX, LimitPurpose, Topics

FLOOR_KW = 1.5  # LBNL: vehicles stop charging below about 1.5 kW
MeterRole = Literal["main", "dcfc", "pv", "battery"]


def _check_floor(value: float, key: str) -> float:
    if 0 < value < FLOOR_KW:
        raise ValueError(f"{key} must be 0 or at least {FLOOR_KW} kW (the charging floor)")
    return value


class SiteSection(Section):
    id: str = Field(min_length=1)
    timezone: str = "UTC"
    import_limit_kw: float = Field(gt=0)
    import_margin_kw: float = Field(default=0.0, ge=0)  # kept free below the contract limit
    tariff: Path | None = None  # tariff TOML (format: edge.tariff); held for the optimizer

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {v!r}") from exc
        return v

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class MqttSection(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=0, le=65535)
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password: SecretStr | None = None  # never logged or echoed in errors
    topic_prefix: str = DEFAULT_PREFIX
    client_id: str | None = None  # default: edge-<site id>
    keepalive_s: int = Field(default=30, ge=5)
    timeout_s: float = Field(default=5.0, gt=0)  # per broker operation (subscribe, publish ack)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)


class MeterSection(Section):
    """One site meter. Default topic and format: contract.SiteMeterReading."""

    topic: str | None = None  # default: {prefix}/sites/{site}/meters/{name}
    field: str = "power_kw"  # dotted path into the JSON payload; "" = payload is a number
    unit: Literal["kW", "W"] = "kW"
    scale: float = 1.0  # multiplied after unit conversion (e.g. -1 for export-positive meters)
    stale_after_s: float | None = Field(default=None, gt=0)  # default: control.stale_after_s


class StartWindow(Section):
    """Local-time window in which a group may charge (site time zone, DST-correct)."""

    opens: time
    closes: time = time(8, 30)  # LBNL: fleet charging blocked 8:30-21:30

    @model_validator(mode="after")
    def _distinct(self) -> StartWindow:
        if self.opens == self.closes:
            raise ValueError("opens and closes must differ")
        return self


class GroupSection(Section):
    start_window: StartWindow | None = None
    # Fleet schedule, used when the EV sends no charging needs (OCPP 1.6 stations never
    # do): vehicles leave at the next ``departs`` (local time) after plugging in, needing
    # ``energy_kwh``. Without ``departs`` a group with a start window is taken to leave
    # when its window closes; other groups stay control.default_dwell_h.
    departs: time | None = None
    energy_kwh: float | None = Field(default=None, ge=0)
    safe_limit_kw: float = Field(default=0.0, ge=0)  # per connector, also the stations' TxDefault
    shed: bool = False  # held at shed.limit_kw while the DCFC draws over the threshold
    controlled: bool = True  # False: metered only (e.g. the DC fast charger)

    @field_validator("safe_limit_kw")
    @classmethod
    def _floor(cls, v: float) -> float:
        return _check_floor(v, "safe_limit_kw")


class ConnectorSection(Section):
    group: str
    max_power_kw: float = Field(gt=0)
    phases: int = Field(default=3, ge=1, le=3)
    node: str | None = None  # network node (siting)


class StationSection(Section):
    station_id: str | None = None  # default: the table's name
    max_power_kw: float | None = Field(default=None, gt=0)  # station max profile when set
    connectors: dict[int, ConnectorSection] = Field(min_length=1)

    @field_validator("connectors")
    @classmethod
    def _ids(cls, v: dict[int, ConnectorSection]) -> dict[int, ConnectorSection]:
        if any(cid < 1 for cid in v):
            raise ValueError("connector ids start at 1")
        return v


class ShedSection(Section):
    """DCFC shed (LBNL): while the DCFC meter reads over the threshold, shed groups are held."""

    meter: str = "dcfc"
    threshold_kw: float = Field(default=10.0, gt=0)
    release_below_kw: float | None = Field(default=None, ge=0)  # hysteresis; default threshold
    limit_kw: float = Field(default=1.65, ge=0)
    min_hold_s: float = Field(default=60.0, ge=0)  # held at least this long after last > threshold

    @field_validator("limit_kw")
    @classmethod
    def _floor(cls, v: float) -> float:
        return _check_floor(v, "limit_kw")

    @model_validator(mode="after")
    def _hysteresis(self) -> ShedSection:
        if self.release_below_kw is not None and self.release_below_kw > self.threshold_kw:
            raise ValueError("release_below_kw must not exceed threshold_kw")
        return self

    @property
    def release_kw(self) -> float:
        return self.threshold_kw if self.release_below_kw is None else self.release_below_kw


class ControlSection(Section):
    interval_s: float = Field(default=60.0, gt=0)
    stale_after_s: float = Field(default=180.0, gt=0)
    deadband_kw: float = Field(default=0.2, ge=0)
    min_command_period_s: float = Field(default=10.0, ge=0)
    valid_for_intervals: float = Field(default=3.0, ge=1.5)  # validTo = now + this * interval
    min_valid_real_s: float = Field(default=2.0, ge=0)  # ... and at least this many real s
    purpose: LimitPurpose = "tx_default"
    stack_level: int = Field(default=1, ge=0)  # above the stations' safe profile (level 0)
    command_timeout_s: float = Field(default=10.0, gt=0)  # real seconds
    command_retries: int = Field(default=3, ge=0)
    max_commands_in_flight: int = Field(default=8, ge=1)  # awaiting their reply at once
    retry_backoff_s: float = Field(default=1.0, gt=0)  # real seconds, doubled per retry
    floor_stickiness_kw: float = Field(default=1.0, ge=0)  # need bonus of charging vehicles
    default_energy_kwh: float = Field(default=20.0, ge=0)  # when the EV sends no needs
    default_dwell_h: float = Field(default=8.0, gt=0)
    planner_timeout_s: float = Field(default=30.0, gt=0)
    # meter history and month-to-date demand survive restarts here (None: memory only);
    # under systemd: StateDirectory=, e.g. /var/lib/evsite-edge (docs/edge.md)
    state_dir: Path | None = None
    history_weeks: int = Field(default=4, ge=1, le=12)  # same-weekday forecast window


class MetricsSection(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9102, ge=0, le=65535)  # 0 = any free port


class LoggingSection(Section):
    level: str = "info"
    format: Literal["json", "console", "auto"] = "auto"


class EdgeConfig(SettingsBase):
    model_config = SettingsConfigDict(env_prefix="EDGE_")

    site: SiteSection
    mqtt: MqttSection = MqttSection()
    control: ControlSection = ControlSection()
    shed: ShedSection = ShedSection()
    meters: dict[MeterRole, MeterSection] = Field(default_factory=dict)
    groups: dict[str, GroupSection] = Field(default_factory=dict)
    stations: dict[str, StationSection] = Field(default_factory=dict)
    optimizer: OptimizerSection = OptimizerSection()
    siting: SitingSection = SitingSection()
    metrics: MetricsSection = MetricsSection()
    logging: LoggingSection = LoggingSection()

    @model_validator(mode="after")
    def _references(self) -> EdgeConfig:
        seen: set[str] = set()
        for name, station in self.stations.items():
            sid = station.station_id or name
            if sid in seen:
                raise ValueError(f"stations.{name}: station id {sid!r} used twice")
            seen.add(sid)
            for cid, conn in station.connectors.items():
                if conn.group not in self.groups:
                    raise ValueError(
                        f"stations.{name}.connectors.{cid}.group: unknown group {conn.group!r}"
                    )
        if any(g.shed for g in self.groups.values()) and self.shed.meter not in self.meters:
            raise ValueError(f"shed.meter: no meter named {self.shed.meter!r}")
        return self

    # -- derived views -------------------------------------------------------
    @property
    def topics(self) -> Topics:
        return Topics(self.mqtt.topic_prefix)

    @property
    def client_id(self) -> str:
        return self.mqtt.client_id or f"edge-{self.site.id}"

    def meter_topic(self, role: str) -> str:
        meter = self.meters[role]  # type: ignore[index]
        return meter.topic or self.topics.site_meter(self.site.id, role)

    def meter_stale_after_s(self, role: str) -> float:
        meter = self.meters[role]  # type: ignore[index]
        return meter.stale_after_s or self.control.stale_after_s

    def connectors(self) -> list[ConnectorRef]:
        refs = []
        for name, station in self.stations.items():
            for cid, conn in sorted(station.connectors.items()):
                refs.append(ConnectorRef(station.station_id or name, cid, conn))
        return refs

    def station_ids(self) -> list[str]:
        return [s.station_id or n for n, s in self.stations.items()]

    def station(self, station_id: str) -> StationSection | None:
        for name, station in self.stations.items():
            if (station.station_id or name) == station_id:
                return station
        return None


class ConnectorRef:
    """A configured connector with its station id and key ``station_id/connector_id``."""

    __slots__ = ("config", "connector_id", "key", "station_id")

    def __init__(self, station_id: str, connector_id: int, config: ConnectorSection):
        self.station_id = station_id
        self.connector_id = connector_id
        self.config = config
        self.key = f"{station_id}/{connector_id}"


def load_site_config(
    path: Path | str | None, overrides: dict[str, Any] | None = None
) -> EdgeConfig:
    """Load and validate; :class:`evcommon.errors.ConfigError` names the offending key.

    A relative ``site.tariff`` path is taken relative to the config file when a file
    is there (else it stays as given: a built-in tariff name or a cwd-relative path).
    """
    cfg = load_settings(EdgeConfig, path, overrides=overrides)
    tariff = cfg.site.tariff
    if path is not None and tariff is not None and not tariff.is_absolute():
        beside = Path(path).parent / tariff
        if beside.exists():
            cfg.site.tariff = beside.resolve()
    return cfg


def load_site_tariff(cfg: EdgeConfig) -> object | None:
    """The site's tariff (edge.tariff format), None when not configured.

    Errors name ``site.tariff``. Imported lazily: the tariff package is the optimizer's.
    """
    if cfg.site.tariff is None:
        return None
    import importlib

    from evcommon.errors import ConfigError

    loader = importlib.import_module("edge.tariff.loader")
    try:
        return loader.load_tariff(cfg.site.tariff)  # type: ignore[no-any-return]
    except ConfigError as exc:
        raise ConfigError(f"site.tariff: {exc}", keys=["site.tariff"]) from exc


def summary(cfg: EdgeConfig) -> str:
    """A human summary for ``edge check-config``."""
    conns = cfg.connectors()
    lines = [
        f"site {cfg.site.id} ({cfg.site.timezone}), import limit {cfg.site.import_limit_kw:g} kW",
        f"broker {cfg.mqtt.host}:{cfg.mqtt.port} prefix {cfg.mqtt.topic_prefix}"
        + (" TLS" if cfg.mqtt.tls else ""),
        f"control every {cfg.control.interval_s:g} s, stale after {cfg.control.stale_after_s:g} s,"
        f" validTo +{cfg.control.valid_for_intervals:g} intervals,"
        f" planner {cfg.optimizer.strategy!r}",
        f"{len(cfg.stations)} stations, {len(conns)} connectors",
    ]
    for role in cfg.meters:
        meter = cfg.meters[role]
        lines.append(f"meter {role}: {cfg.meter_topic(role)} field={meter.field!r} {meter.unit}")
    safe_total = 0.0
    for gname, group in cfg.groups.items():
        members = [c for c in conns if c.config.group == gname]
        total = sum(c.config.max_power_kw for c in members)
        safe_total += group.safe_limit_kw * len(members) if group.controlled else total
        window = (
            f"window {group.start_window.opens:%H:%M}-{group.start_window.closes:%H:%M}"
            if group.start_window
            else "no window"
        )
        flags = ("shed " if group.shed else "") + ("" if group.controlled else "uncontrolled ")
        lines.append(
            f"group {gname}: {len(members)} connectors, {total:g} kW max, {window},"
            f" safe {group.safe_limit_kw:g} kW {flags}".rstrip()
        )
    lines.append(
        f"shed: {cfg.shed.meter} > {cfg.shed.threshold_kw:g} kW -> {cfg.shed.limit_kw:g} kW,"
        f" release below {cfg.shed.release_kw:g} kW after {cfg.shed.min_hold_s:g} s"
    )
    lines.append(f"safe state total (safe limits + uncontrolled max): {safe_total:g} kW")
    return "\n".join(lines)
