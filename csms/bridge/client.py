"""The MQTT connection of the CSMS: will, reconnect with jittered backoff, the
publisher draining the :class:`Outbox`, and the command subscriber.

Commands run in a task group that outlives single connections; their replies go
through the outbox, so a reply whose connection dropped is sent after reconnect.
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from csms.bridge.commands import CommandExecutor, command_name, peek
from csms.bridge.config import MqttSection
from csms.bridge.outbox import Outbox, Outgoing
from evcommon import contract
from evcommon.aio import raise_if_cancelling
from evcommon.logs import get_logger

log = get_logger(__name__)
QOS = 1
PUBLISH_WINDOW = 64  # QoS 1 messages awaiting PUBACK at once
# paho leaves Nagle on: small QoS 1 messages then wait for delayed ACKs (~40 ms each way)
NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
SEEN_COMMANDS = 4096  # correlation ids remembered to drop QoS 1 duplicates
PROTOCOLS = {"5": aiomqtt.ProtocolVersion.V5, "3.1.1": aiomqtt.ProtocolVersion.V311}


class MqttBridge:
    def __init__(
        self,
        settings: MqttSection,
        executor: CommandExecutor,
        outbox: Outbox,
        *,
        version: str | None = None,
    ):
        self.settings = settings
        self.topics = contract.Topics(settings.topic_prefix)
        self.executor = executor
        self.outbox = outbox
        self.version = version
        # MQTT 3.1.1 has no properties: replies only go to the payload's reply_to
        self.mqtt5 = settings.protocol == "5"
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._sem = asyncio.Semaphore(settings.max_concurrent_commands)
        self._commands: asyncio.TaskGroup | None = None
        self._up: bool | None = None  # None: never connected yet
        self._idle = asyncio.Event()  # no publish awaiting its PUBACK
        self._idle.set()
        # other features' subscriptions (e.g. the edge's site plans): filter -> callback
        self._subscriptions: dict[str, Callable[[str, bytes], None]] = {}

    # -- for other features (csms.requests.service.RetainedPublisher) --------------
    def put_retained(self, topic: str, payload: bytes) -> None:
        """Publish retained, QoS 1, and again after every reconnect; b"" clears it."""
        self.outbox.put_state(topic, payload)

    def subscribe(self, topic_filter: str, callback: Callable[[str, bytes], None]) -> None:
        """Call ``callback(topic, payload)`` for each message on ``topic_filter`` (from the
        current connection too, if there is one)."""
        self._subscriptions[topic_filter] = callback
        client = self._client
        if client is not None and self.connected.is_set() and self._commands is not None:
            self._commands.create_task(self._subscribe_now(client, topic_filter))

    async def _subscribe_now(self, client: aiomqtt.Client, topic_filter: str) -> None:
        try:
            await client.subscribe(topic_filter, qos=QOS)
        except aiomqtt.MqttError as exc:  # the next connection subscribes again
            log.warning("mqtt subscribe failed", topic=topic_filter, error=str(exc))

    # -- connection ----------------------------------------------------------
    def _make_client(self) -> aiomqtt.Client:
        s = self.settings
        tls_context = None
        if s.tls:
            tls_context = ssl.create_default_context(cafile=s.ca_file)
            if s.cert_file:
                tls_context.load_cert_chain(s.cert_file, s.key_file)
            if s.tls_insecure:
                tls_context.check_hostname = False
        will = aiomqtt.Will(
            self.topics.csms_state,
            contract.encode(contract.ServiceState(online=False, version=self.version)),
            qos=QOS,
            retain=True,
        )
        return aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            identifier=s.client_id,
            protocol=PROTOCOLS[s.protocol],
            will=will,
            keepalive=s.keepalive_s,
            tls_context=tls_context,
            tls_insecure=s.tls_insecure if s.tls else None,
            socket_options=NODELAY,
        )

    async def run(self) -> None:
        """Connect, serve, reconnect; returns only when cancelled."""
        async with asyncio.TaskGroup() as commands:
            self._commands = commands
            backoff_s = self.settings.reconnect_min_s
            while True:
                try:
                    async with self._make_client() as client:
                        raise_if_cancelling()  # cancelled while the CONNACK arrived
                        self._client = client
                        backoff_s = self.settings.reconnect_min_s
                        await self._serve(client)
                except* aiomqtt.MqttError as group:
                    # log the change of state once, not every retry
                    if self._up is not False:
                        log.warning(
                            "mqtt broker unreachable" if self._up is None else "mqtt disconnected",
                            error=str(group.exceptions[0]),
                            broker=self._where(),
                        )
                    self._up = False
                except* Exception:
                    # a bug, not the network: log it loudly and start over
                    log.exception("mqtt bridge failed; reconnecting", broker=self._where())
                    self._up = False
                finally:
                    self._client = None
                    self.connected.clear()
                    self.outbox.metrics.connected.set(0)
                raise_if_cancelling()  # a cancel swallowed by a failing connect
                delay_s = random.uniform(self.settings.reconnect_min_s, backoff_s)
                backoff_s = min(self.settings.reconnect_max_s, backoff_s * 2)
                await asyncio.sleep(delay_s)

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    async def _serve(self, client: aiomqtt.Client) -> None:
        await client.publish(
            self.topics.csms_state,
            contract.encode(contract.ServiceState(online=True, version=self.version)),
            qos=QOS,
            retain=True,
        )
        await client.subscribe(self.topics.all_commands, qos=QOS)
        for topic_filter in self._subscriptions:
            await client.subscribe(topic_filter, qos=QOS)
        raise_if_cancelling()  # a cancel swallowed by the PUBACK/SUBACK waits
        self.outbox.republish_all()
        self.connected.set()
        self.outbox.metrics.connected.set(1)
        self._up = True
        log.info("mqtt connected", broker=self._where(), protocol=self.settings.protocol)
        await self._session_loops(client)

    async def _session_loops(self, client: aiomqtt.Client) -> None:
        """Publish and receive until one of them fails (the connection broke); the other
        is cancelled and awaited. Not a TaskGroup: in 3.11 a TaskGroup whose child fails
        while its owner already waits in ``__aexit__`` leaves the owner's ``cancelling()``
        count raised for good, and the reconnect loop would take that for a shutdown."""
        tasks = [
            asyncio.create_task(self._publish_loop(client), name="mqtt-publish"),
            asyncio.create_task(self._receive_loop(client), name="mqtt-receive"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and (exc := task.exception()) is not None:
                raise exc
        raise aiomqtt.MqttError("mqtt session ended")

    async def close(self) -> None:
        """Graceful shutdown: flush briefly and mark the CSMS offline (the will is only
        sent by the broker on an unclean disconnect)."""
        client = self._client
        if client is None:
            return
        try:
            async with asyncio.timeout(2.0):
                await self.outbox.drained()
                await self._idle.wait()
                await client.publish(
                    self.topics.csms_state,
                    contract.encode(contract.ServiceState(online=False, version=self.version)),
                    qos=QOS,
                    retain=True,
                )
        except (TimeoutError, aiomqtt.MqttError) as exc:
            log.warning("mqtt: could not publish offline state", error=str(exc))

    # -- publishing -------------------------------------------------------------
    async def _publish_loop(self, client: aiomqtt.Client) -> None:
        """Publish in outbox order with up to ``PUBLISH_WINDOW`` messages awaiting their
        PUBACK (one at a time would make throughput 1/RTT). paho writes each message
        when its task starts, so the order on the wire is the outbox order. If the
        connection breaks, every message not acknowledged goes back to the outbox."""
        inflight: deque[tuple[Outgoing, asyncio.Task[None]]] = deque()
        try:
            while True:
                if not inflight:
                    await self.outbox.wait()
                while len(inflight) < PUBLISH_WINDOW and (item := self.outbox.pop()) is not None:
                    task = asyncio.create_task(
                        client.publish(
                            item.topic,
                            item.payload,
                            qos=QOS,
                            retain=item.retain,
                            properties=item.properties,
                        ),
                        name="mqtt-publish-one",
                    )
                    inflight.append((item, task))
                    self._idle.clear()
                if inflight:
                    waiting: set[asyncio.Future[Any]] = {inflight[0][1]}
                    waker = None
                    if len(inflight) < PUBLISH_WINDOW:  # room: also wake for new messages
                        waker = asyncio.ensure_future(self.outbox.wait())
                        waiting.add(waker)
                    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                    if waker is not None:
                        waker.cancel()
                    while inflight and inflight[0][1].done():
                        self._settle(inflight)
                    if not inflight:
                        self._idle.set()
        finally:
            # not acknowledged: keep them for the next connection, in order
            for item, task in reversed(inflight):
                if not task.done():
                    task.cancel()
                if task.cancelled() or not task.done() or task.exception() is not None:
                    self.outbox.push_back(item)
            self._idle.set()

    def _settle(self, inflight: deque[tuple[Outgoing, asyncio.Task[None]]]) -> None:
        """The oldest publish is done: acknowledged, refused alone, or the connection broke.

        A message the client refuses by itself (paho raises ValueError for a topic with
        a wildcard, e.g. a station id with ``#``) is dropped, logged and counted: sent
        back to the outbox it would fail the connection on every reconnect, forever, and
        with it every command of the site."""
        item, done = inflight[0]
        try:
            done.result()
        except aiomqtt.MqttError:
            raise  # the connection broke: ``item`` stays in flight and goes back, in order
        except (ValueError, TypeError) as exc:
            inflight.popleft()
            self.outbox.metrics.publish_errors.inc()
            log.error("mqtt message refused; dropped", topic=item.topic[:200], error=str(exc))
            return
        inflight.popleft()

    # -- commands -----------------------------------------------------------------
    async def _receive_loop(self, client: aiomqtt.Client) -> None:
        assert self._commands is not None
        async for message in client.messages:
            raw = message.payload
            payload = raw if isinstance(raw, bytes | bytearray) else str(raw or "").encode()
            if self._dispatch(message.topic, bytes(payload)):
                continue
            station = message.topic.value.rsplit("/", 1)[-1]
            await self._sem.acquire()
            self._commands.create_task(
                self._handle(bytes(payload), station, message.properties if self.mqtt5 else None),
                name=f"mqtt-command:{station}",
            )

    def _dispatch(self, topic: aiomqtt.Topic, payload: bytes) -> bool:
        """A message on another feature's subscription: hand it over; True if it was."""
        for topic_filter, callback in self._subscriptions.items():
            if topic.matches(topic_filter):
                try:
                    callback(topic.value, payload)
                except Exception:
                    log.exception("mqtt subscriber failed", topic=topic.value)
                return True
        return False

    async def _handle(self, raw: bytes, station: str, props: Any) -> None:
        try:
            response_topic = getattr(props, "ResponseTopic", None) if props else None
            correlation = getattr(props, "CorrelationData", None) if props else None
            cid, reply_to = peek(raw)
            key = f"{station}\x00{cid}"
            if cid and key in self._seen:
                # a QoS 1 redelivery (or a reused id): the first one gets the one reply
                log.info("duplicate command ignored", correlation_id=cid, station_id=station)
                return
            if cid:
                self._seen[key] = None
                while len(self._seen) > SEEN_COMMANDS:
                    self._seen.popitem(last=False)
            reply = await self.executor.execute(raw, station)
            command = command_name(raw)
            result = "ok" if reply.ok else reply.error.code if reply.error else "error"
            self.outbox.metrics.commands.labels(command, result).inc()
            self._send_reply(reply, response_topic, correlation, reply_to)
        except Exception:  # never let one command take the bridge down
            log.exception("command handling failed", station_id=station)
        finally:
            self._sem.release()

    def _send_reply(
        self,
        reply: contract.CommandReply,
        response_topic: str | None,
        correlation: bytes | None,
        reply_to: str | None,
    ) -> None:
        if response_topic and self.mqtt5:
            props = None
            if correlation is not None:
                props = Properties(PacketTypes.PUBLISH)
                props.CorrelationData = correlation
            self.outbox.put_event(Outgoing(response_topic, contract.encode(reply), False, props))
            return
        if reply_to and self._reply_topic_allowed(reply_to):
            self.outbox.put_event(Outgoing(reply_to, contract.encode(reply)))
            return
        log.warning(
            "command reply has nowhere to go (no response topic, no valid reply_to)",
            correlation_id=reply.correlation_id,
            ok=reply.ok,
            error=reply.error.message if reply.error else None,
        )

    def _reply_topic_allowed(self, topic: str) -> bool:
        """No wildcards, and never onto our own state/command topics."""
        if not topic or "+" in topic or "#" in topic:
            return False
        prefix = self.topics.prefix
        own = (f"{prefix}/stations/", f"{prefix}/commands/", f"{prefix}/csms/")
        return not topic.startswith(own)
