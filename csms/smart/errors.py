"""Errors of the smart-charging API; each carries the contract error code it maps to."""

from __future__ import annotations

from csms.errors import CsmsError
from evcommon.contract import ErrorCode


class SmartChargingError(CsmsError):
    code: ErrorCode = "internal"


class InvalidLimit(SmartChargingError):
    """The request itself is wrong (nothing was sent to the station)."""

    code: ErrorCode = "invalid_command"

    def __init__(self, field: str, problem: str):
        self.field = field
        super().__init__(f"{field}: {problem}")


class LimitRejected(SmartChargingError):
    """The station refused every profile of the fallback chain; ``attempts`` says
    which purposes were tried and the station's reason for each."""

    code: ErrorCode = "rejected"

    def __init__(self, message: str, attempts: list[dict[str, object]] | None = None):
        self.attempts = attempts or []
        super().__init__(message)


class NotSupported(SmartChargingError):
    code: ErrorCode = "not_supported"
