"""The ``[mqtt]`` section of the CSMS config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from evcommon.config import Section


class MqttSection(Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    # "5": replies use the command's Response Topic / Correlation Data properties when it
    # has them; "3.1.1" for brokers without MQTT 5 (replies go to the payload's reply_to)
    protocol: Literal["5", "3.1.1"] = "5"
    topic_prefix: str = "evsite/v1"
    client_id: str = "evsite-csms"
    username: str | None = None
    password: SecretStr | None = None
    # TLS: tls = true uses the system CAs unless ca_file is given; cert/key for mutual TLS
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_insecure: bool = Field(default=False, description="skip hostname verification")
    keepalive_s: int = Field(default=30, ge=5)
    # reconnect: full jitter, delay uniform in [min, current], current doubling up to max
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)
    # non-retained messages (transactions, profile events, alarms, replies) kept while the
    # broker is unreachable; the oldest are dropped (and counted) beyond this
    queue_size: int = Field(default=10_000, ge=10)
    command_timeout_s: float = Field(default=60.0, gt=0)
    max_concurrent_commands: int = Field(default=32, ge=1)

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_number(cls, value: object) -> object:
        # TOML ``protocol = 5`` (a number) means "5"
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value
