"""A Shelly Pro 3EM that publishes its own readings over MQTT (`status_ntf`), read from the bus
instead of polled over HTTP.

The device sends `em:0` only when a power moves past its threshold (5 % or 10 W) and now and
then regardless, so a steady house is quiet for a while: the last `em:0` then still holds, and
`read()` gives it stamped now. That holds only while the device is there to break the silence,
so `read()` refuses once the device says `false` on `online` (its last will) or has sent no
`em:0` for `max_silence` s, and the bridge says `offline`. A `false` also forgets every reading
sent before it: after a reconnect, nothing is published until the device pushes again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from pydantic import ValidationError
from wattbus.bus import Bus
from wattbus.closing import AsyncClosing
from wattbus.models import Event, EventKind, MeterState, utcnow

from .client import meter_state
from .exceptions import DeviceConnectionError, DeviceTimeoutError
from .models import EMDataStatus, EMStatus

log = logging.getLogger(__name__)

ONLINE, OFFLINE = b"true", b"false"  # the device's payloads on `<prefix>/online`
Status = TypeVar("Status", EMStatus, EMDataStatus)
PUSH_MODEL = "Pro 3EM"  # the triphase em:0 this reads; never asked, since there may be no host


@dataclass(frozen=True)
class PushInfo:
    """What the bridge knows of a device it never asks."""

    model: str = PUSH_MODEL
    name: str | None = None
    mac: str | None = None
    ver: str | None = None


def _no_one() -> None:
    pass


class ShellyPush(AsyncClosing):
    """The device's topics under `prefix` (its MQTT `topic_prefix`), routed on `bus` at once,
    so build it before the bus runs. Set `on_reading` to the bridge's `poll_now`."""

    def __init__(
        self,
        bus: Bus,
        device_id: str,
        prefix: str,
        *,
        max_silence: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.online_topic = f"{prefix}/online"
        self.em_topic = f"{prefix}/status/em:0"
        self.emdata_topic = f"{prefix}/status/emdata:0"
        self.on_reading: Callable[[], None] = _no_one
        self._bus = bus
        self._event_topic = bus.topics.event(device_id)
        self._max_silence = max_silence
        self._clock = clock  # the readings' time stamps, as the polling clients take them
        self._online: bool | None = None  # None: the device has not said yet
        self._em: EMStatus | None = None
        self._em_at = 0.0  # time.monotonic() when `_em` came
        self._data: EMDataStatus | None = None
        self._bad: set[str] = set()  # topics in a streak of malformed payloads
        # `online` first: its retained value arrives before any reading
        bus.route(self.online_topic, self._on_online)
        bus.route(self.emdata_topic, self._on_emdata)
        bus.route(self.em_topic, self._on_em)

    async def close(self) -> None:
        """Nothing of its own to close: the bus belongs to the service."""

    async def device_info(self) -> PushInfo:
        return PushInfo()

    async def read(self) -> MeterState:
        if self._online is None:
            raise DeviceConnectionError(f"{self.online_topic}: the device has not said online")
        if not self._online:
            raise DeviceConnectionError(f"{self.online_topic}: the device says offline")
        if self._em is None:
            raise DeviceConnectionError(f"{self.em_topic}: no push yet")
        silent = time.monotonic() - self._em_at
        if silent > self._max_silence:
            raise DeviceTimeoutError(
                f"{self.em_topic}: no push for {silent:.0f} s (max_silence {self._max_silence:g} s)"
            )
        return meter_state(self._em, self._data, self._clock())

    async def _on_online(self, topic: str, payload: bytes) -> None:
        value = payload.strip()
        if value not in (ONLINE, OFFLINE):
            await self._malformed(topic, f"expected true or false, got {value[:40]!r}")
            return
        self._well_formed(topic)
        self._online = value == ONLINE
        if not self._online:
            self._em = self._data = None
            self.on_reading()  # say offline now, not at the next tick

    async def _on_em(self, topic: str, payload: bytes) -> None:
        if (em := await self._parse(EMStatus, topic, payload)) is not None:
            self._em, self._em_at = em, time.monotonic()
            self.on_reading()

    async def _on_emdata(self, topic: str, payload: bytes) -> None:
        if (data := await self._parse(EMDataStatus, topic, payload)) is not None:
            self._data = data
            self.on_reading()

    async def _parse(self, model: type[Status], topic: str, payload: bytes) -> Status | None:
        try:
            status = model.model_validate_json(payload)
        except ValidationError as err:
            await self._malformed(topic, _first_error(err))
            return None
        self._well_formed(topic)
        return status

    async def _malformed(self, topic: str, reason: str) -> None:
        """Ignored, and said once per streak: a device stuck on bad payloads must not flood."""
        if topic in self._bad:
            return
        self._bad.add(topic)
        log.warning("%s: malformed payload ignored: %s", topic, reason)
        event = Event(kind=EventKind.ERROR, topic=topic, reason=f"malformed payload: {reason}")
        await self._bus.publish(self._event_topic, event, qos=1)

    def _well_formed(self, topic: str) -> None:
        if topic in self._bad:
            self._bad.discard(topic)
            log.info("%s: well-formed again", topic)


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]
