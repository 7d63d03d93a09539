"""The MQTT connection: connect, subscribe, hand messages over, reconnect with jittered backoff.

Holds no state of the site; the daemon's handlers cache what arrives. While
disconnected, :meth:`MqttLink.publish` raises :class:`NotConnected` (commands
fail and are retried; the stations meanwhile fall back on their own when the
last limits expire).
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Awaitable, Callable

import aiomqtt

from edge.config import EdgeConfig
from evcommon.contract import ServiceState, encode
from evcommon.errors import EvsiteError
from evcommon.logs import get_logger

log = get_logger("edge.mqtt")


class NotConnected(EvsiteError):
    pass


class MqttLink:
    def __init__(
        self,
        cfg: EdgeConfig,
        topics: list[str],
        on_message: Callable[[aiomqtt.Message], None],
        on_connected: Callable[[], Awaitable[None]] | None = None,
        on_state: Callable[[bool], None] | None = None,
    ):
        self.cfg = cfg
        self.topics = topics
        self.on_message = on_message
        self.on_connected = on_connected
        self.on_state = on_state or (lambda _up: None)
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._failures = 0
        self._state_topic = cfg.topics.edge_state(cfg.site.id)

    def _client_args(self) -> dict[str, object]:
        m = self.cfg.mqtt
        args: dict[str, object] = {
            "hostname": m.host,
            "port": m.port,
            "identifier": self.cfg.client_id,
            "username": m.username,
            "password": m.password.get_secret_value() if m.password else None,
            "keepalive": m.keepalive_s,
            "timeout": m.timeout_s,
            "will": aiomqtt.Will(
                self._state_topic, encode(ServiceState(online=False)), qos=1, retain=True
            ),
        }
        if m.tls:
            ctx = ssl.create_default_context(cafile=str(m.ca_file) if m.ca_file else None)
            if m.cert_file:
                ctx.load_cert_chain(str(m.cert_file), str(m.key_file) if m.key_file else None)
            args["tls_context"] = ctx
        return args

    async def publish(
        self, topic: str, payload: bytes, *, retain: bool = False, qos: int = 1
    ) -> None:
        client = self._client
        if client is None or not self.connected.is_set():
            raise NotConnected("not connected to the MQTT broker")
        try:
            await client.publish(topic, payload, qos=qos, retain=retain)
        except aiomqtt.MqttError as exc:
            raise NotConnected(str(exc)) from exc

    async def run(self) -> None:
        """Stay connected until cancelled."""
        m = self.cfg.mqtt
        while True:
            try:
                async with aiomqtt.Client(**self._client_args()) as client:  # type: ignore[arg-type]
                    await self._session(client)
            except aiomqtt.MqttError as exc:
                if self.connected.is_set() or self._failures == 0:
                    log.warning("mqtt disconnected, reconnecting", error=str(exc))
                self._down()
                delay = min(m.reconnect_max_s, m.reconnect_min_s * 2**self._failures)
                self._failures = min(self._failures + 1, 16)
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            finally:
                self._down()

    async def _session(self, client: aiomqtt.Client) -> None:
        for topic in self.topics:
            await client.subscribe(topic, qos=1)
        await client.publish(
            self._state_topic, encode(ServiceState(online=True)), qos=1, retain=True
        )
        self._client = client
        self._failures = 0
        self.connected.set()
        self.on_state(True)
        log.info("mqtt connected", host=self.cfg.mqtt.host, port=self.cfg.mqtt.port)
        if self.on_connected is not None:
            await self.on_connected()
        try:
            async for message in client.messages:
                self.on_message(message)
        except asyncio.CancelledError:
            # clean shutdown: say so, rather than leaving it to the will
            await asyncio.shield(self._goodbye(client))
            raise

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        try:
            await client.publish(
                self._state_topic, encode(ServiceState(online=False)), qos=1, retain=True, timeout=2
            )
        except Exception as exc:
            log.debug("offline state not published", error=repr(exc))

    def _down(self) -> None:
        if self.connected.is_set():
            self.on_state(False)
        self.connected.clear()
        self._client = None
