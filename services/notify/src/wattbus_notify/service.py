"""The notification service's I/O shell: reads every service's events and availability,
hands them to the limiter (`limits.py`) and sends what it lets through with apprise.

A plain MQTT client with its own user, `notify`: it reads, and writes only its own
availability, state (what it has sent and held back) and events (a send that failed). It
decides by `clock`, so a test moves time by hand and a digest comes at the moment it is due.
"""

from __future__ import annotations

import asyncio
import logging

from pydantic import ValidationError
from wattbus.bus import Bus
from wattbus.clock import Clock, SystemClock
from wattbus.models import Event, EventKind, State
from wattbus.service import ServiceSpec
from wattbus.settings import BusSettings
from wattbus.stopping import run_together

from wattbus_notify import sender
from wattbus_notify.kinds import Notice, from_availability, from_event
from wattbus_notify.limits import Limiter, Message
from wattbus_notify.settings import NotifySettings

log = logging.getLogger(__name__)


class NotifyState(State):
    """What this service has done since it started, for a person checking it works."""

    targets: int
    sent: int  # messages, digests included
    held_back: int  # notices counted into a digest instead of sent
    failed: int  # sends a target did not take


class Notifier:
    def __init__(
        self,
        bus: Bus,
        settings: NotifySettings,
        clock: Clock | None = None,
        targets: list[sender.Target] | None = None,
    ) -> None:
        self.bus = bus
        self.clock = clock or SystemClock()
        self.device_id = settings.id
        self.limiter = Limiter(settings.rules)
        self.targets = targets if targets is not None else sender.targets(settings.targets)
        self.failed = 0
        self.availability: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._sending = asyncio.Lock()  # one message at a time, in order
        t = bus.topics
        bus.route(t.event("+"), self._on_event, qos=1)
        bus.route(t.availability("+"), self._on_availability, qos=1)

    async def run(self) -> None:
        await self.bus.connected.wait()
        await self._publish_state()
        while True:
            self._wake.clear()
            now = self.clock.now()
            if (digest := self.limiter.due(now)) is not None:
                await self._send(digest)
                continue
            await self.clock.wait(self._wake, self.limiter.next_due(now))

    async def _on_event(self, topic: str, payload: bytes) -> None:
        device = self.bus.topics.device_of(topic)
        if device is None or device == self.device_id:
            return
        try:
            event = Event.model_validate_json(payload)
        except ValidationError as err:
            log.warning("%s: not an event, ignored: %s", topic, _first(err))
            return
        if (notice := from_event(device, event)) is not None:
            await self._offer(notice)

    async def _on_availability(self, topic: str, payload: bytes) -> None:
        device = self.bus.topics.device_of(topic)
        if device is None or device == self.device_id:
            return
        value = payload.decode(errors="replace").strip()
        if value not in ("online", "offline"):
            log.warning("%s: availability %r is neither online nor offline, ignored", topic, value)
            return
        was, self.availability[device] = self.availability.get(device), value
        if (notice := from_availability(device, was, value)) is not None:
            await self._offer(notice)

    async def _offer(self, notice: Notice) -> None:
        message = self.limiter.offer(notice, self.clock.now())
        if message is None:
            log.debug("held back: %s", notice.line(self.limiter.rules.home))
            await self._publish_state()
        else:
            await self._send(message)
        self._wake.set()  # a notice held back may be the first: the loop learns its time

    async def _send(self, message: Message) -> None:
        async with self._sending:
            failed = await sender.send(self.targets, message.title, message.body)
            self.failed += len(failed)
            for shown in failed:
                log.warning("not sent to %s: %s", shown, message.title)
                await self.bus.publish(
                    self.bus.topics.event(self.device_id),
                    Event(
                        ts=self.clock.now(),
                        kind=EventKind.ERROR,
                        reason=f"not sent to {shown}: {message.title}",
                        code="send_failed",
                        data={"target": shown, "kinds": list(message.kinds)},
                    ),
                    qos=1,
                )
            await self._publish_state()

    async def _publish_state(self) -> None:
        state = NotifyState(
            ts=self.clock.now(),
            targets=len(self.targets),
            sent=self.limiter.sent,
            held_back=self.limiter.held_back,
            failed=self.failed,
        )
        await self.bus.publish(self.bus.topics.state(self.device_id), state, retain=True)


def _first(err: ValidationError) -> str:
    e = err.errors()[0]
    where = ".".join(str(x) for x in e["loc"])
    return f"{where}: {e['msg']}" if where else e["msg"]


async def serve(settings: NotifySettings, bus_settings: BusSettings) -> None:
    bus = Bus(bus_settings, settings.id)
    await run_together(bus.run(), Notifier(bus, settings).run())


SERVICE = ServiceSpec("notify", NotifySettings, serve)
