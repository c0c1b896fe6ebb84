"""The one MQTT connection of a process.

It reconnects with backoff, subscribes again after every reconnect, publishes `online` on its
availability topic (the last will says `offline`) and re-publishes every retained message it
sent before, so a broker restarted without persistence converges back to the true state.
Handlers are routed by topic pattern from a table; a handler that fails is logged and the
connection keeps serving the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
from pydantic import BaseModel

from wattbus.settings import BusSettings, tls_context
from wattbus.topics import Topics

log = logging.getLogger(__name__)


class _BrokerGone(logging.Filter):
    """paho reports a broker that went away (a restart, a host shutting down, a lost LAN) as an
    ERROR, though for a service that only means waiting: the bus says so itself, at WARNING,
    with when it retries. Its other messages keep their levels."""

    LOST = ("failed to receive on socket", "failed to send")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and str(record.msg).startswith(self.LOST):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


PAHO_LOG = logging.getLogger("mqtt")  # paho's messages, as aiomqtt names them
PAHO_LOG.addFilter(_BrokerGone())

Handler = Callable[[str, bytes], Awaitable[None]]
OnConnect = Callable[[], Awaitable[None]]

BACKOFF_FIRST = 0.5  # s: the first retry after a lost connection
# s: never wait longer than this between retries. A home's broker is one process on the LAN:
# retrying it every 2 s costs nothing, and a longer wait only keeps a service away for that long
# after the broker is back (with a 30 s cap, services took up to 31 s after a 20 s outage).
BACKOFF_MAX = 2.0
KEEPALIVE = 15  # s: a dead broker is noticed within 1.5 x this
# s an answer from the broker may take (CONNACK, SUBACK, PUBACK, the goodbye): aiomqtt's 10 s
# default, plus the 2 s `offline` at a stop, let a service stopped together with its broker
# outlast `docker stop`'s 10 s grace and be killed; a broker on the LAN answers in milliseconds
OPERATION_TIMEOUT = 5.0
HEALTH_EVERY = 10.0  # s: how often a connected process touches its health file
ONLINE = "online"
OFFLINE = "offline"


def encode(payload: str | bytes | BaseModel | dict[str, Any]) -> bytes:
    """Models as compact JSON with ISO timestamps; text as UTF-8."""
    if isinstance(payload, BaseModel):
        return payload.model_dump_json(exclude_none=True).encode()
    if isinstance(payload, dict):
        return json.dumps(payload, separators=(",", ":"), default=str).encode()
    if isinstance(payload, str):
        return payload.encode()
    return payload


def backoff_delays() -> Iterator[float]:
    """The waits between connection attempts: doubling from BACKOFF_FIRST up to BACKOFF_MAX."""
    delay = BACKOFF_FIRST
    while True:
        yield delay
        delay = min(delay * 2, BACKOFF_MAX)


def mqtt_client(
    s: BusSettings, identifier: str, *, will: aiomqtt.Will | None = None
) -> aiomqtt.Client:
    """A client with the suite's login and TLS settings; the CLI's short-lived ones too."""
    tls = tls_context(s.mqtt_ca_file) if s.mqtt_tls else None
    client = aiomqtt.Client(
        s.mqtt_host,
        s.mqtt_port,
        username=s.mqtt_username,
        password=s.mqtt_password.get_secret_value() if s.mqtt_password else None,
        identifier=identifier,
        keepalive=KEEPALIVE,
        timeout=OPERATION_TIMEOUT,
        tls_context=tls,
        will=will,
        # commands are small and latency matters: no waiting for delayed ACKs (Nagle)
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        logger=PAHO_LOG,
    )
    _send_at_once(client)
    return client


def _send_at_once(client: aiomqtt.Client) -> None:
    """Have `publish` write to the socket itself, as paho does without an event loop.

    aiomqtt sends each packet from a writability callback it registers from any thread: a
    self-pipe wake-up, two epoll changes and two more turns of the loop per message. Sending
    at once took 0.2 ms off a hold's p50 (bench/latency.py, back to back). On the loop's own
    thread the packet is written now, and what the kernel does not take still waits for
    writability as before. (paho's connect runs in a worker thread: left as it is.)
    """
    paho = client._client  # aiomqtt keeps its paho client private; the version is locked
    register_later = paho.on_socket_register_write
    assert register_later is not None

    def register_write(c: mqtt.Client, userdata: Any, sock: Any) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if sock.fileno() != -1:
                register_later(c, userdata, sock)
            return
        c.loop_write()  # a lost connection is reported by paho's disconnect, as before
        # A socket closed by now (the broker gone) is no one's to watch: aiomqtt would
        # schedule a watch on its fd, -1 by then, and asyncio log that as an ERROR.
        if c.want_write() and sock.fileno() != -1:
            register_later(c, userdata, sock)

    paho.on_socket_register_write = register_write


def _read_lost_connection(client: aiomqtt.Client) -> None:
    """A connection lost while we were leaving it (a host stopping the broker and the
    services at once) ends in aiomqtt's disconnect future, which nothing reads once the
    client is closed; asyncio would log it at exit as an ERROR. It is expected here: read it."""
    lost = client._disconnected  # private, like `_client` above; the version is locked
    if lost.done() and not lost.cancelled():
        lost.exception()


@dataclass(frozen=True)
class Route:
    pattern: str
    handler: Handler
    qos: int


class Bus:
    def __init__(self, settings: BusSettings, device_id: str) -> None:
        """`device_id` names the process on the bus: its client id and availability topic."""
        self.settings = settings
        self.topics = Topics(settings.topic_prefix, settings.discovery_prefix)
        self.client_id = f"wattbus-{device_id}"
        self.availability_topic = self.topics.availability(device_id)
        self.connected = asyncio.Event()
        self._routes: list[Route] = []
        self._on_connect: list[OnConnect] = []
        self._retained: dict[str, bytes] = {}
        self._client: aiomqtt.Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def route(self, pattern: str, handler: Handler, *, qos: int = 0) -> None:
        """Subscribe `handler` to `pattern` (MQTT wildcards allowed); set up before `run`.

        QoS 0 by default, also for commands sent with QoS 1: a clean session ends with its
        connection, so a message the broker sent us and we did not acknowledge is lost on a
        drop either way, and the acknowledgement would sit on every command's path (bench/).
        Commands outlive drops by being repeated (the controller's resend and lease)."""
        self._routes.append(Route(pattern, handler, qos))

    def on_connect(self, callback: OnConnect) -> None:
        """Called after each (re)connect, once subscriptions are in place."""
        self._on_connect.append(callback)

    async def publish(
        self,
        topic: str,
        payload: str | bytes | BaseModel | dict[str, Any],
        *,
        retain: bool = False,
        qos: int = 0,
    ) -> bool:
        """Publish now if connected. Retained payloads are also kept to re-publish on reconnect;
        a non-retained one sent while disconnected is dropped, as it would be stale later. The
        answer says whether it went (with QoS 1: the broker has it), for the few messages that
        are not stale later and that a caller keeps to send again (a bridge's notices)."""
        data = encode(payload)
        if retain:
            self._retained[topic] = data
        client = self._client
        if client is None:
            return False
        try:
            await client.publish(topic, data, qos=qos, retain=retain)
        except aiomqtt.MqttError as err:
            log.debug("publish to %s dropped: %s", topic, err)
            return False
        return True

    def _make_client(self) -> aiomqtt.Client:
        will = aiomqtt.Will(self.availability_topic, OFFLINE, qos=1, retain=True)
        return mqtt_client(self.settings, self.client_id, will=will)

    async def run(self) -> None:
        """Serve forever; cancel to stop."""
        delays = backoff_delays()
        while True:
            client = self._make_client()
            try:
                async with client:
                    delays = backoff_delays()
                    try:
                        await self._serve(client)
                    except asyncio.CancelledError:
                        await self._say_offline(client)
                        raise
            except aiomqtt.MqttError as err:
                delay = next(delays)
                log.warning(
                    "broker %s:%s: %s; retrying in %.1f s",
                    self.settings.mqtt_host,
                    self.settings.mqtt_port,
                    err,
                    delay,
                )
            else:
                delay = next(delays)
            finally:
                self._client = None
                self.connected.clear()
                _read_lost_connection(client)
            await asyncio.sleep(delay)

    async def _serve(self, client: aiomqtt.Client) -> None:
        for r in self._routes:
            await client.subscribe(r.pattern, qos=r.qos)
        self._client = client  # only now: whoever sees our state can also reach our commands
        if self.availability_topic not in self._retained:
            await client.publish(self.availability_topic, ONLINE, qos=1, retain=True)
        for topic, data in list(self._retained.items()):
            await client.publish(topic, data, qos=1, retain=True)
        log.info("connected to %s:%s", self.settings.mqtt_host, self.settings.mqtt_port)
        self.connected.set()
        for callback in self._on_connect:
            self._spawn(callback())
        health = asyncio.create_task(self._touch_health())
        try:
            async for message in client.messages:
                topic = str(message.topic)
                payload = message.payload if isinstance(message.payload, bytes) else b""
                for r in self._routes:
                    if message.topic.matches(r.pattern):
                        self._spawn(r.handler(topic, payload))
        finally:
            # not a TaskGroup: its ExceptionGroup would hide the MqttError the reconnect loop needs
            health.cancel()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(self._guarded(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(coro: Awaitable[None]) -> None:
        try:
            await coro
        except Exception:
            log.exception("handler failed; the service goes on")

    async def _touch_health(self) -> None:
        while True:
            with contextlib.suppress(OSError):
                self.settings.health_file.touch()
            await asyncio.sleep(HEALTH_EVERY)

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        """A clean stop says `offline` itself: the last will fires only on a drop."""
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(2):
                await client.publish(self.availability_topic, OFFLINE, qos=1, retain=True)
