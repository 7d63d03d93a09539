"""The CSMS settings tree: TOML file validated by pydantic, ``CSMS_*`` environment overrides.

Example: docs/csms.md and csms/csms.example.toml. Environment overrides use
``CSMS_SECTION__KEY``, e.g. ``CSMS_SERVER__PORT=9000``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from csms.bridge.config import MqttSection
from csms.requests.config import DriversSection, HttpSection
from csms.smart.config import SmartChargingSection
from evcommon.clock import parse_clock
from evcommon.config import Section, SettingsBase, load_settings, validate_section
from evcommon.errors import ConfigError

DEFAULT_DB_URL = "sqlite:///data/csms.db"


class ServerSection(Section):
    host: str = "0.0.0.0"
    port: int = Field(default=9000, ge=0, le=65535)
    # Prometheus /metrics on its own port; 0 picks a free port, -1 disables it.
    metrics_port: int = Field(default=9100, ge=-1, le=65535)
    metrics_host: str = "127.0.0.1"
    # Version assumed for chargers that offer no subprotocol; None refuses them (HTTP 400).
    default_version: Literal["1.6", "2.0.1"] | None = "1.6"
    # a bigger frame is answered with a CALLERROR (format violation), the socket stays open
    max_frame_bytes: int = Field(default=65536, ge=1024)
    # ... up to this size; beyond it the websocket layer closes with 1009 before
    # buffering it all (a frame is never read into memory unbounded)
    hard_max_frame_bytes: int = Field(default=1048576, ge=1024)
    # bad-frame log lines per station and minute (the metrics count every one)
    bad_frame_logs_per_minute: int = Field(default=10, ge=0)
    call_timeout_s: float = Field(default=30.0, gt=0)
    heartbeat_interval_s: int = Field(default=300, ge=1)
    # BootNotification of a station that is not registered but allowed: Accepted or Pending.
    unknown_station_boot_status: Literal["Accepted", "Pending"] = "Accepted"

    @field_validator("default_version", mode="before")
    @classmethod
    def _none(cls, value: object) -> object:
        # TOML has no null: "none" (or "") refuses chargers that offer no subprotocol
        return None if isinstance(value, str) and value.lower() in ("", "none") else value


class DatabaseSection(Section):
    url: str = DEFAULT_DB_URL
    # Commit batching: handlers wait for their batch's commit before answering.
    max_batch: int = Field(default=256, ge=1)
    # SQLite only. normal: a commit survives a crash of the CSMS, fsync at checkpoints
    # (every second); full: fsync before every answer (survives power loss, slower).
    sqlite_synchronous: Literal["normal", "full"] = "normal"


class SecuritySection(Section):
    # True so that `csms serve` with no config just works; production sets false.
    allow_unknown_stations: bool = True
    # a config file with allow_unknown_stations on a non-loopback host must confirm it
    confirm_allow_unknown_stations: bool = False
    accept_all_id_tags: bool = False


class LoggingSection(Section):
    level: str = "info"
    format: Literal["json", "console", "auto"] = "auto"


def _default_clock() -> str:
    return os.environ.get("EVSITE_CLOCK", "real")


class CsmsSettings(SettingsBase):
    model_config = SettingsConfigDict(env_prefix="CSMS_")

    server: ServerSection = ServerSection()
    database: DatabaseSection = DatabaseSection()
    security: SecuritySection = SecuritySection()
    logging: LoggingSection = LoggingSection()
    mqtt: MqttSection = MqttSection()
    smart_charging: SmartChargingSection = SmartChargingSection()
    http: HttpSection = HttpSection()
    drivers: DriversSection = DriversSection()
    clock: str = Field(default_factory=_default_clock)

    @field_validator("clock")
    @classmethod
    def _valid_clock(cls, value: str) -> str:
        parse_clock(value)  # raises ConfigError naming the problem
        return value


def load(
    path: Path | str | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    db: str | None = None,
    clock: str | None = None,
) -> CsmsSettings:
    """Settings from an optional TOML file and the environment; command-line options win."""
    settings = load_settings(CsmsSettings, path)
    # applied after validation: the settings sources rank the environment above
    # constructor data, and options given on the command line must beat both
    server = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if server:
        data = {**settings.server.model_dump(), **server}
        settings.server = validate_section(ServerSection, data, source="command line")
    if db is not None:
        data = {**settings.database.model_dump(), "url": db}
        settings.database = validate_section(DatabaseSection, data, source="command line")
    if clock is not None:
        parse_clock(clock)
        settings.clock = clock
    if path is not None:
        _check_open_registration(settings, str(path))
    return settings


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _check_open_registration(settings: CsmsSettings, source: str) -> None:
    """A config file (a deployment) that lets any station in on a public interface must
    say so twice: a forgotten development default would let strangers in."""
    sec = settings.security
    if (
        sec.allow_unknown_stations
        and not sec.confirm_allow_unknown_stations
        and settings.server.host not in _LOOPBACK
    ):
        raise ConfigError(
            "security.allow_unknown_stations = true on a non-loopback server.host lets any "
            "station connect without credentials; register stations (`csms stations add`) "
            "and set it false, or set security.confirm_allow_unknown_stations = true",
            source=source,
            keys=["security.allow_unknown_stations"],
        )
