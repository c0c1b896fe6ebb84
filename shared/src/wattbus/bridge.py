"""The shell every bridge shares: poll the device, publish its state, carry commands to it.

A bridge loop never raises for a device problem: after `offline_after` failed reads in a row
it marks the device offline, says so once (log line and `event`), backs off, and recovers by
itself. Its `health` topic says, all along, when the device last answered and how many reads
in a row have failed since. Every command gets one answer on
the device's `event` topic: `applied`, `rejected` (bad input, nothing changed) or `error`
(the device failed). What a device does on its own while it is read (a battery whose hold
lease ran out and was restored) it leaves in an `Outbox`, which the bridge publishes as
`notice` or `error` events after each poll and each command. Those are news nobody else
has (the battery was given back its settings while the broker was away): kept until the bus is
connected again, and sent then.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from wattbus.bus import OFFLINE, ONLINE, Bus
from wattbus.commands import CommandError, parse_command
from wattbus.discovery import DeviceInfo, Entity, device_config, removed_components
from wattbus.models import BridgeHealth, Command, Event, EventKind, State, utcnow
from wattbus.stopping import run_together

log = logging.getLogger(__name__)

S = TypeVar("S", bound=State)
C = TypeVar("C", bound=Command)
S_co = TypeVar("S_co", bound=State, covariant=True)
C_contra = TypeVar("C_contra", bound=Command, contravariant=True)

RETRY_MAX = 30.0  # s: the longest wait between polls of an unreachable device
# a device's events kept while the broker is away; a device says a few an hour, so more means
# an outage of days, and the oldest are dropped first (each with a log line)
UNSENT_MAX = 100


@dataclass(frozen=True)
class DeviceEvent:
    """Something a device did or met on its own, outside any command's answer."""

    kind: EventKind  # NOTICE or ERROR
    code: str  # stable, listed in docs/topics.md
    reason: str
    data: dict[str, object] | None = None


class Outbox:
    """Events a device leaves for its bridge to publish. A device's `read` returns a state,
    so what else it has to say (a restore it did, one it had to give up) waits here."""

    def __init__(self) -> None:
        self._events: list[DeviceEvent] = []

    def put(self, event: DeviceEvent) -> None:
        self._events.append(event)

    def take(self) -> list[DeviceEvent]:
        events, self._events = self._events, []
        return events


class Device(Protocol[S_co, C_contra]):
    """What a bridge needs from a device client: read its state, apply a command."""

    @property
    def info(self) -> DeviceInfo: ...

    async def read(self, now: datetime) -> S_co: ...

    async def apply(self, command: C_contra, now: datetime) -> str:
        """Carry out the command; return a short note for the `applied` event.
        Raise CommandError to refuse it (nothing changed)."""
        ...


class Bridge(Generic[S, C]):
    def __init__(
        self,
        bus: Bus,
        device: Device[S, C],
        *,
        entities: tuple[Entity, ...],
        command_model: type[C] | None,
        errors: tuple[type[Exception], ...],
        interval: float,
        clock: Callable[[], datetime] = utcnow,
        outbox: Outbox | None = None,
        every_reading: bool = False,
    ) -> None:
        self.bus = bus
        self.device = device
        self.device_id = device.info.device_id
        self.entities = entities
        self.command_model = command_model
        self.errors = errors
        self.interval = interval
        self.clock = clock
        self.outbox = outbox
        # A meter's readings feed what must never act on old data (the SmartEVSE's mains
        # feed): publishing each one, changed or not, makes `ts` the time of the last read,
        # so a steady meter and a dead one differ on the bus. Other devices publish on change.
        self.every_reading = every_reading
        self.state: S | None = None
        self.available: bool | None = None
        self.offline_after = bus.settings.offline_after
        self.health = BridgeHealth(ts=clock())
        self._published_at: datetime | None = None
        self._lock = asyncio.Lock()  # one conversation with the device at a time
        self._wake = asyncio.Event()
        self._info_published: DeviceInfo | None = None
        self._unsent: deque[Event] = deque()
        self._sending = asyncio.Lock()  # one sender: events leave in the order they happened

        t = bus.topics
        self.set_topic = t.set(self.device_id)
        bus.route(self.set_topic, self._on_set)
        bus.route(self.set_topic + "/+", self._on_set)
        if bus.settings.discovery:
            bus.route(t.ha_status, self._on_ha_status)
            bus.route(t.discovery(self.device_id), self._on_old_discovery)
            bus.on_connect(self._publish_discovery)
        if outbox is not None:
            bus.on_connect(self._send_unsent)

    async def serve(self) -> None:
        """The bus connection and the poll loop together: a bridge process's whole life."""
        await run_together(self.bus.run(), self.run())

    async def run(self) -> None:
        await self.bus.publish(self.bus.availability_topic, OFFLINE, retain=True)
        delay = self.interval
        while True:
            self._wake.clear()  # before the poll: a poll_now() during it polls again at once
            ok = await self.poll()
            # an outage is confirmed at the poll's pace, then waited out with longer pauses
            confirmed = not ok and self.health.failures >= self.offline_after
            delay = min(max(delay, self.interval) * 2, RETRY_MAX) if confirmed else self.interval
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def poll_now(self) -> None:
        """Read the device now rather than at the next tick (a command changed it, or a device
        that pushes its readings has sent one)."""
        self._wake.set()

    async def poll(self) -> bool:
        now = self.clock()
        try:
            async with self._lock:
                state = await self.device.read(now)
        except self.errors as err:
            await self._send_outbox()
            await self._failed(err, now)
            return False
        await self._send_outbox()
        back = self.available is not True
        if back:
            log.info("%s reachable", self.device_id)
            self.available = True
            await self.bus.publish(self.bus.availability_topic, ONLINE, retain=True)
        if self.device.info != self._info_published and self.bus.connected.is_set():
            await self._publish_discovery()
        heartbeat_due = (
            self._published_at is None
            or (now - self._published_at).total_seconds() >= self.bus.settings.heartbeat
        )
        if self.every_reading or back or heartbeat_due or not state.same_values(self.state):
            await self.bus.publish(self.bus.topics.state(self.device_id), state, retain=True)
            self._published_at = now
        self.state = state
        await self._answered(now)  # after the state: what acts on the device waits for that
        return True

    async def _failed(self, err: Exception, now: datetime) -> None:
        failures = self.health.failures + 1
        await self._say_health(self.health.model_copy(
            update={"ts": now, "failures": failures, "error": str(err)}
        ))  # fmt: skip
        if failures < self.offline_after:
            log.info("%s: read failed (%d of %d before offline): %s",
                     self.device_id, failures, self.offline_after, err)  # fmt: skip
            return
        if self.available is not False:
            log.warning("%s unreachable: %s", self.device_id, err)
            await self._event(EventKind.ERROR, reason=f"device error: {err}")
        self.available = False
        await self.bus.publish(self.bus.availability_topic, OFFLINE, retain=True)

    async def _answered(self, now: datetime) -> None:
        """Health after a good read: at once after failures, else with the heartbeat."""
        h = self.health
        due = h.last_success is None or (now - h.ts).total_seconds() >= self.bus.settings.heartbeat
        health = BridgeHealth(ts=now, last_success=now)
        if h.failures or due:
            await self._say_health(health)
        else:
            self.health = h.model_copy(update={"last_success": now})

    async def _say_health(self, health: BridgeHealth) -> None:
        self.health = health
        await self.bus.publish(self.bus.topics.health(self.device_id), health, retain=True)

    async def _on_set(self, topic: str, payload: bytes) -> None:
        if self.command_model is None:
            reason = f"{self.device_id} takes no commands"
            await self._event(EventKind.REJECTED, topic=topic, reason=reason)
            return
        try:
            command = parse_command(self.command_model, self.set_topic, topic, payload)
        except CommandError as err:
            await self._event(EventKind.REJECTED, topic=topic, reason=str(err), id=err.command_id)
            return
        body = command.model_dump(exclude_none=True, exclude={"id"})
        try:
            async with self._lock:
                note = await self.device.apply(command, self.clock())
        except CommandError as err:
            await self._event(EventKind.REJECTED, topic, str(err), command.id, body)
            return
        except self.errors as err:
            log.warning("%s: %s failed: %s", self.device_id, body, err)
            await self._event(EventKind.ERROR, topic, f"device error: {err}", command.id, body)
            await self._send_outbox()
            return
        await self._event(EventKind.APPLIED, topic, note, command.id, body)
        await self._send_outbox()
        self.poll_now()  # publish the new state now, not at the next tick

    async def _send_outbox(self) -> None:
        if self.outbox is None:
            return
        for e in self.outbox.take():
            log.log(logging.ERROR if e.kind is EventKind.ERROR else logging.INFO,
                    "%s: %s: %s", self.device_id, e.code, e.reason)  # fmt: skip
            self._keep(
                Event(ts=self.clock(), kind=e.kind, reason=e.reason, code=e.code, data=e.data)
            )
        await self._send_unsent()

    def _keep(self, event: Event) -> None:
        if len(self._unsent) >= UNSENT_MAX:
            old = self._unsent.popleft()
            log.warning(
                "%s: broker away, %d events kept at most: dropped %s %s of %s",
                self.device_id, UNSENT_MAX, old.kind.value, old.code, old.ts.isoformat(),
            )  # fmt: skip
        self._unsent.append(event)

    async def _send_unsent(self) -> None:
        """Send the kept events, oldest first, while the broker takes them."""
        async with self._sending:
            topic = self.bus.topics.event(self.device_id)
            while self._unsent and await self.bus.publish(topic, self._unsent[0], qos=1):
                self._unsent.popleft()

    async def _event(
        self,
        kind: EventKind,
        topic: str | None = None,
        reason: str | None = None,
        id: str | int | None = None,
        command: dict[str, object] | None = None,
    ) -> None:
        if kind is EventKind.REJECTED:  # the README promises a log line for every refusal
            log.warning("%s: rejected %s: %s", self.device_id, topic, reason)
        event = Event(
            ts=self.clock(), kind=kind, id=id, topic=topic, reason=reason, command=command
        )
        await self.bus.publish(self.bus.topics.event(self.device_id), event, qos=1)

    async def _publish_discovery(self, removed: dict[str, str] | None = None) -> None:
        info = self.device.info
        config = device_config(self.bus.topics, info, self.entities, removed=removed)
        await self.bus.publish(self.bus.topics.discovery(self.device_id), config, retain=True)
        self._info_published = info

    async def _on_ha_status(self, _topic: str, payload: bytes) -> None:
        """Home Assistant restarted: discovery again, then the current state."""
        if payload.strip().lower() != b"online":
            return
        await self._publish_discovery()
        if self.state is not None:
            await self.bus.publish(self.bus.topics.state(self.device_id), self.state, retain=True)

    async def _on_old_discovery(self, _topic: str, payload: bytes) -> None:
        removed = removed_components(payload, self.entities)
        if removed:
            log.info("%s: removing stale discovery entities %s", self.device_id, sorted(removed))
            await self._publish_discovery(removed)
