"""A Shelly Pro 3EM's own MQTT client, publishing as the device does with "Generic status update
over MQTT" (`status_ntf`) on (docs/devices/shelly-pro-3em.md, "Push over MQTT"):

- `<prefix>/online`: `true`, retained, on connect; the last will says `false`, retained, QoS 1;
- `<prefix>/status/em:0`: the whole `EM.GetStatus` object, QoS 1, when a phase's or the total
  active power has moved by more than 5 % or 10 W since the last one, and at least every
  `periodic` s. Also at once on connect: whether the device does so is not documented, and a
  test that starts from a reading needs it;
- `<prefix>/status/emdata:0`: the whole `EMData.GetStatus` object every `energy_every` s (the
  device: every full minute).

It reads the same `ShellyPro3EMState` as the HTTP fake, and connects to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import aiomqtt
from wattbus.closing import AsyncClosing
from wattbus.stopping import stop

from .fake_shelly import Json, ShellyPro3EMState, em_status, emdata_status

THRESHOLD_W = 10.0  # a power that moves by more than this ...
THRESHOLD_SHARE = 0.05  # ... or by more than this share of its last pushed value is pushed
PERIODIC = 60.0  # s: em:0 at least this often, moved or not
ENERGY_EVERY = 60.0  # s between emdata:0
LOOK_EVERY = 0.05  # s between looks at the state: the device measures all the time
POWERS = ("a_act_power", "b_act_power", "c_act_power", "total_act_power")
QOS = 1  # the only QoS the device supports


def moved(last: Json, now: Json) -> bool:
    """Whether a power is past the device's reporting threshold since the `last` push."""
    for key in POWERS:
        change = abs(now[key] - last[key])
        if change > THRESHOLD_W or change > THRESHOLD_SHARE * abs(last[key]):
            return True
    return False


class FakeShellyMqtt(AsyncClosing):
    """`await start()` connects and starts reporting; `stop()` goes away, saying `false`."""

    def __init__(
        self,
        state: ShellyPro3EMState,
        port: int,
        *,
        prefix: str,
        username: str | None = None,
        password: str | None = None,
        periodic: float = PERIODIC,
        energy_every: float = ENERGY_EVERY,
    ) -> None:
        self.state = state
        self.online_topic = f"{prefix}/online"
        self.em_topic = f"{prefix}/status/em:0"
        self.emdata_topic = f"{prefix}/status/emdata:0"
        self._port, self._username, self._password = port, username, password
        self._periodic, self._energy_every = periodic, energy_every
        self._client: aiomqtt.Client | None = None
        self._stack = contextlib.AsyncExitStack()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one em:0 decision at a time: the loop's or a test's
        self._last: Json | None = None  # the em:0 pushed last
        self._last_at = 0.0  # time.monotonic() of that push
        self._energy_at = 0.0

    async def start(self) -> None:
        will = aiomqtt.Will(self.online_topic, "false", qos=QOS, retain=True)
        self._client = await self._stack.enter_async_context(
            aiomqtt.Client(
                "127.0.0.1",
                self._port,
                username=self._username,
                password=self._password,
                identifier=self.state.device_id,  # the device's default client_id
                will=will,
            )
        )
        await self._client.publish(self.online_topic, "true", qos=QOS, retain=True)
        self._last, self._energy_at = None, time.monotonic()
        self._task = asyncio.create_task(self._report_all_the_time())

    async def stop(self) -> None:
        """The device goes away. aiomqtt has no public way to drop a connection without a
        DISCONNECT (which cancels the will), so the fake says `false` itself, as the broker
        would for it, then disconnects cleanly."""
        if self._task is not None:
            await stop(self._task)
            self._task = None
        if self._client is not None:
            await self._client.publish(self.online_topic, "false", qos=QOS, retain=True)
            self._client = None
        await self._stack.aclose()

    async def close(self) -> None:
        await self.stop()

    async def report(self) -> bool:
        """Push em:0 if the device would now (threshold or periodic); True if it did."""
        async with self._lock:
            em = em_status(self.state)
            due = time.monotonic() - self._last_at >= self._periodic
            if self._last is not None and not due and not moved(self._last, em):
                return False
            await self._publish_em(em)
            return True

    async def push(self) -> None:
        """em:0 now, whatever the threshold says."""
        async with self._lock:
            await self._publish_em(em_status(self.state))

    async def push_energy(self) -> None:
        """emdata:0 now, rather than at the next `energy_every`."""
        self._energy_at = time.monotonic()
        await self._connected().publish(
            self.emdata_topic, _json(emdata_status(self.state)), qos=QOS
        )

    async def publish_raw(self, topic: str, payload: bytes) -> None:
        """Anything on any topic, from the device's own connection: what broken firmware might
        send. (A second client with the device's login would push the device off the broker.)"""
        await self._connected().publish(topic, payload, qos=QOS)

    async def _publish_em(self, em: Json) -> None:
        await self._connected().publish(self.em_topic, _json(em), qos=QOS)
        self._last, self._last_at = em, time.monotonic()

    async def _report_all_the_time(self) -> None:
        while True:
            await self.report()
            if time.monotonic() - self._energy_at >= self._energy_every:
                await self.push_energy()
            await asyncio.sleep(LOOK_EVERY)

    def _connected(self) -> aiomqtt.Client:
        if self._client is None:
            raise RuntimeError("the fake Shelly is not connected: start() it first")
        return self._client


def _json(body: Json) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
