"""The project's small typed error hierarchy."""

from __future__ import annotations


class EvsiteError(Exception):
    """Base class of every error raised on purpose by this project."""


class ConfigError(EvsiteError):
    """A configuration file or value is invalid; the message names the key."""

    def __init__(self, message: str, *, source: str | None = None, keys: list[str] | None = None):
        self.source = source
        self.keys = keys or []
        super().__init__(f"{source}: {message}" if source else message)


class ContractError(EvsiteError):
    """A payload on the CSMS/edge MQTT contract does not match its model."""
