"""The ``[http]`` and ``[drivers]`` sections of the CSMS config (docs/driver-requests.md)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator

from evcommon.config import Section

# Site default for miles -> kWh when no per-vehicle figure is known: 0.30 kWh/mile is the
# order of the US EPA combined consumption of common battery EVs (about 25-35 kWh per
# 100 miles, fueleconomy.gov), rounded up so that a driver's miles are not under-served.
DEFAULT_KWH_PER_MILE = 0.30


class HttpSection(Section):
    """The driver API and page, served by uvicorn in the CSMS's own event loop."""

    host: str = "127.0.0.1"
    # 0: any free port (CsmsApp.http_port tells it); -1: HTTP off
    port: int = Field(default=8080, ge=-1, le=65535)
    # base of the links handed to drivers; "" = http://{host}:{port}
    public_url: str = ""

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


class WebhookSection(Section):
    url: str = "http://127.0.0.1:9999/notify"
    timeout_s: float = Field(default=5.0, gt=0)
    # attempts in all (1 = no retry); backoff doubles from retry_backoff_s
    attempts: int = Field(default=4, ge=1, le=20)
    retry_backoff_s: float = Field(default=0.5, ge=0)
    # when set, the body is signed: header X-Evsite-Signature: sha256=<hex HMAC-SHA256>
    secret: SecretStr = SecretStr("")


class DriversSection(Section):
    # how the link reaches the driver; registered by name (csms.requests.notifiers)
    notifier: str = "log"
    # kWh per mile when no per-vehicle figure is known (see DEFAULT_KWH_PER_MILE)
    miles_to_kwh: float = Field(default=DEFAULT_KWH_PER_MILE, gt=0, le=2)
    # dev only: the log notifier writes the whole link (a bearer secret) into the log
    log_links: bool = False
    # sanity bounds of a request (beyond them the field is named as invalid)
    max_energy_kwh: float = Field(default=200.0, gt=0)
    max_distance_miles: float = Field(default=1000.0, gt=0)
    max_stay_h: float = Field(default=72.0, gt=0)
    # the driver page shows and reads times in this zone (IANA name, e.g. America/Los_Angeles)
    timezone: str = "UTC"
    webhook: WebhookSection = WebhookSection()

    @field_validator("notifier")
    @classmethod
    def _known_notifier(cls, value: str) -> str:
        from csms.requests.notifiers import notifier_names

        if value not in notifier_names():
            raise ValueError(f"unknown notifier {value!r}; one of {', '.join(notifier_names())}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value
