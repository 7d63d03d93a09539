"""A driver's request as submitted, checked against the CSMS clock.

Pure: :func:`check` returns the fields to store or raises :class:`InvalidRequest` naming
the field. Used by the HTTP API, the page and anything else (a CLI) that submits.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from csms.requests.config import DriversSection


class RequestError(Exception):
    """A request the service refuses; ``status`` is the HTTP status that says why."""

    status = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidRequest(RequestError):
    status = 422


class UnknownSession(RequestError):
    status = 404


class SessionEnded(RequestError):
    status = 410


class Conflict(RequestError):
    status = 409


class RequestBody(BaseModel):
    """``PUT /api/v1/driver/sessions/{token}/request``: departure plus kWh or miles, or opt-out."""

    model_config = ConfigDict(extra="forbid")
    departure_at: datetime | None = Field(
        default=None, description="ISO 8601 with a time zone; optional with opt_out"
    )
    energy_kwh: float | None = Field(default=None, description="energy wanted, kWh")
    distance_miles: float | None = Field(
        default=None, description="distance wanted, miles (instead of energy_kwh)"
    )
    opt_out: bool = Field(default=False, description="charge at normal power, no smart control")


def _positive(value: float, field: str, limit: float, unit: str) -> None:
    if not value > 0:
        raise InvalidRequest(f"{field} must be greater than 0", field)
    if value > limit:
        raise InvalidRequest(f"{field} must be at most {limit:g} {unit}", field)


def _departure(value: datetime | None, now: datetime, cfg: DriversSection) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidRequest("departure_at needs a time zone (e.g. Z or +02:00)", "departure_at")
    value = value.astimezone(UTC)
    if value <= now:
        raise InvalidRequest("departure_at is in the past", "departure_at")
    if value > now + timedelta(hours=cfg.max_stay_h):
        raise InvalidRequest(
            f"departure_at is more than {cfg.max_stay_h:g} h ahead", "departure_at"
        )
    return value


def check(body: RequestBody, now: datetime, cfg: DriversSection) -> dict[str, Any]:
    """The revision's fields (energy from miles filled in); raises InvalidRequest."""
    departure = _departure(body.departure_at, now, cfg)
    energy, miles = body.energy_kwh, body.distance_miles
    if energy is not None and miles is not None:
        raise InvalidRequest("give energy_kwh or distance_miles, not both", "energy_kwh")
    if not body.opt_out:
        if departure is None:
            raise InvalidRequest("departure_at is required (or opt_out)", "departure_at")
        if energy is None and miles is None:
            raise InvalidRequest("give energy_kwh or distance_miles", "energy_kwh")
    per_mile = None
    if energy is not None:
        _positive(energy, "energy_kwh", cfg.max_energy_kwh, "kWh")
    if miles is not None:
        _positive(miles, "distance_miles", cfg.max_distance_miles, "miles")
        per_mile = cfg.miles_to_kwh
        energy = round(miles * per_mile, 3)
    return {
        "departure_at": departure,
        "energy_kwh": energy,
        "distance_miles": miles,
        "kwh_per_mile": per_mile,
        "opt_out": body.opt_out,
        "withdrawn": False,
        "submitted_at": now,
    }
