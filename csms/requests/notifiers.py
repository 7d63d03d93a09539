"""How a session's link reaches its driver: a small :class:`Notifier` protocol and the
notifiers registered by name ("log", "webhook", "none").

SMS or e-mail providers plug in behind the webhook (or register a notifier of their own
with :func:`register_notifier` before the settings are validated). A notifier failure is
logged and counted (``csms_driver_notifications_total{notifier,result}``), never silent.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import httpx
import orjson
from prometheus_client import CollectorRegistry, Counter

from evcommon.logs import get_logger

log = get_logger(__name__)
SIGNATURE_HEADER = "X-Evsite-Signature"


@dataclass(frozen=True)
class SessionNotice:
    """What a notifier is handed at transaction start (the webhook's JSON body)."""

    station_id: str
    connector_id: int
    transaction_id: str
    id_tag: str | None
    started_at: str | None  # ISO 8601, UTC
    link: str
    token: str

    def redacted_link(self) -> str:
        return self.link[: len(self.link) - len(self.token)] + self.token[:4] + "…"

    def body(self) -> bytes:
        return orjson.dumps(asdict(self))


class Notifier(Protocol):
    name: str

    async def notify(self, notice: SessionNotice) -> None:
        """Deliver the link; raise on failure (the caller logs and counts it)."""
        ...


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.sent = Counter(
            "csms_driver_notifications",
            "Driver links handed to the notifier, by result (ok / failed)",
            ["notifier", "result"],
            registry=registry,
        )


class NoneNotifier:
    name = "none"

    async def notify(self, notice: SessionNotice) -> None:
        return None


class LogNotifier:
    """Writes the link to the CSMS log: redacted unless ``[drivers] log_links`` (dev only)."""

    name = "log"

    def __init__(self, log_links: bool = False):
        self.log_links = log_links

    async def notify(self, notice: SessionNotice) -> None:
        link = notice.link if self.log_links else notice.redacted_link()
        log.info(
            "driver link",
            station_id=notice.station_id,
            connector_id=notice.connector_id,
            transaction_id=notice.transaction_id,
            link=link,
        )


class WebhookNotifier:
    """POSTs the notice as JSON; retried with doubling backoff; optional HMAC signature."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        attempts: int = 4,
        retry_backoff_s: float = 0.5,
        secret: str = "",
        client: httpx.AsyncClient | None = None,
    ):
        self.url = url
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.retry_backoff_s = retry_backoff_s
        self.secret = secret.encode()
        self._client = client

    def headers(self, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.secret:
            digest = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        return headers

    async def notify(self, notice: SessionNotice) -> None:
        body = notice.body()
        headers = self.headers(body)
        delay_s = self.retry_backoff_s
        async with self._use_client() as client:
            for attempt in range(1, self.attempts + 1):
                try:
                    response = await client.post(
                        self.url, content=body, headers=headers, timeout=self.timeout_s
                    )
                    response.raise_for_status()
                    return
                except httpx.HTTPError as exc:
                    if attempt == self.attempts:
                        raise
                    log.warning(
                        "driver webhook failed, retrying",
                        attempt=attempt,
                        error=str(exc) or type(exc).__name__,
                        transaction_id=notice.transaction_id,
                    )
                await asyncio.sleep(delay_s)
                delay_s *= 2

    def _use_client(self) -> Any:
        if self._client is not None:
            return _Borrowed(self._client)
        return httpx.AsyncClient()


class _Borrowed:
    def __init__(self, client: httpx.AsyncClient):
        self.client = client

    async def __aenter__(self) -> httpx.AsyncClient:
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        return None


NotifierFactory = Callable[[Any], Notifier]  # (DriversSection) -> Notifier


def _webhook(drivers: Any) -> Notifier:
    w = drivers.webhook
    return WebhookNotifier(
        w.url,
        timeout_s=w.timeout_s,
        attempts=w.attempts,
        retry_backoff_s=w.retry_backoff_s,
        secret=w.secret.get_secret_value(),
    )


_REGISTRY: dict[str, NotifierFactory] = {
    "log": lambda drivers: LogNotifier(drivers.log_links),
    "webhook": _webhook,
    "none": lambda drivers: NoneNotifier(),
}


def register_notifier(name: str, factory: NotifierFactory) -> None:
    """Make ``[drivers] notifier = name`` build ``factory(drivers_section)``."""
    _REGISTRY[name] = factory


def notifier_names() -> list[str]:
    return sorted(_REGISTRY)


def build_notifier(drivers: Any) -> Notifier:
    return _REGISTRY[drivers.notifier](drivers)
