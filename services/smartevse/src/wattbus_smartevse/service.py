"""The SmartEVSE bridge's I/O shell: the meter's and the battery's states in, the charger's
`Set/MainsMeter` and `Set/HomeBatteryCurrent` out, decided by the pure `feed` and
`passthrough` cores; the charger's own topics mirrored as a `ChargerState`; commands checked
(`commands`), sent, and answered once the charger shows them (`readback`).

Handlers only store what came and wake one loop; the loop decides, publishes, and sleeps
until the next thing a decision waits for (`Wait.until`, a repeat, the feed going stale) or
the next message. So a burst of messages is decided once, and time is always `clock`'s.

Both feeds go at QoS 0, as the firmware's own feed scripts send them. A reading is worth
something only now: a lost one is replaced by the next within a second, while an
acknowledged one could only be retried later, which is exactly what must never reach the
charger (an old number). Commands to the charger go at QoS 1, and their effect is read back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta

from wattbus.bus import OFFLINE, ONLINE, Bus
from wattbus.clock import Clock, SystemClock
from wattbus.commands import CommandError, parse_command
from wattbus.discovery import removed_components
from wattbus.inputs import BusInputs
from wattbus.models import BatteryState, ChargerState, Event, EventKind, MeterState
from wattbus.service import ConfigError, ServiceSpec
from wattbus.settings import BusSettings
from wattbus.stopping import run_together

from wattbus_smartevse import charger, feed, passthrough, store
from wattbus_smartevse.charger import Unreadable, Value
from wattbus_smartevse.commands import (
    PassthroughSetting,
    SmartEVSECommand,
    passthrough_after,
    writes,
)
from wattbus_smartevse.entities import ENTITIES, discovery
from wattbus_smartevse.feed import Feed, FeedMemory, Skip, Wait
from wattbus_smartevse.mains import DECI, meter_voltage
from wattbus_smartevse.passthrough import PassthroughMemory, Send
from wattbus_smartevse.readback import READ_BACK, Pending, answer
from wattbus_smartevse.settings import SmartEVSESettings
from wattbus_smartevse.status import FeedState, active_until, feed_active

log = logging.getLogger(__name__)

FEED_QOS = 0  # see the module's docstring
SET_QOS = 1  # a command to the charger: its firmware subscribes to Set/# at QoS 1
CONNECTED = "connected"  # the charger's availability topic, after its prefix
METER_TOO_SLOW = "meter_too_slow"  # the error event's code, listed in docs/topics.md


class MeterTooSlow(ConfigError):
    """The meter's first two readings show it read less often than a reading stays fresh."""


class SmartEVSEBridge:
    def __init__(self, bus: Bus, settings: SmartEVSESettings, clock: Clock | None = None) -> None:
        self.bus = bus
        self.settings = settings
        self.clock = clock or SystemClock()
        self.device_id = settings.id
        t = bus.topics
        self.set_mains = f"{settings.prefix}/Set/MainsMeter"
        self.set_battery = f"{settings.prefix}/Set/HomeBatteryCurrent"
        self.feed_topic = f"{t.prefix}/{settings.id}/feed"
        self.events = t.event(settings.id)
        self.set_topic = t.set(settings.id)
        self.saved_path = store.path_of(settings)
        self.saved = store.load(self.saved_path)
        for line in store.overridden(settings, self.saved):
            log.warning("%s", line)
        self.passthrough = store.in_effect(settings, self.saved)

        self.meter: MeterState | None = None
        self.meter_online: bool | None = None  # None: not heard yet
        self.battery: BatteryState | None = None
        self.battery_online: bool | None = None
        # the meter's read interval, judged once from its first two readings while online
        self.first_reading: datetime | None = None
        self.too_slow: str | None = None
        self.meter_judged = False
        self.feed_memory = FeedMemory()
        self.pass_memory = PassthroughMemory()
        self.passthrough_current: float | None = None  # A, the value being sent
        self.split: bool | None = None
        self.published: FeedState | None = None
        # the charger's topics as last read, and how many messages came on each
        self.charger: dict[str, Value] = {}
        self.charger_seen: dict[str, int] = {}
        self.charger_heard: datetime | None = None  # the last message from it
        self.charger_online: bool | None = None
        self.charger_published: ChargerState | None = None
        self._charger_sent_at: datetime | None = None
        self.pending: list[Pending] = []
        self._not_fed: feed.NotFed | None = None  # why the feed is stopped, said once
        self._not_sent: str | None = None
        self.inputs = BusInputs(log, self._report_bad_input)
        self._unreadable: set[str] = set()  # the charger's topics that brought garbage
        self._wake = asyncio.Event()

        # availability first: its retained value then arrives before the retained state
        bus.route(t.availability(settings.meter), self._on_meter_availability)
        bus.route(t.state(settings.meter), self._on_meter)
        if settings.battery is not None:
            bus.route(t.availability(settings.battery), self._on_battery_availability)
            bus.route(t.state(settings.battery), self._on_battery)
        bus.route(f"{settings.prefix}/+", self._on_charger)  # one level: not our own Set/...
        bus.route(self.set_topic, self._on_set)
        bus.route(self.set_topic + "/+", self._on_set)
        if bus.settings.discovery:
            bus.route(t.ha_status, self._on_ha_status)
            bus.route(t.discovery(settings.id), self._on_old_discovery)
            bus.on_connect(self._publish_discovery)

    # --- inputs: store and wake the loop ---------------------------------------------------

    async def _on_meter(self, topic: str, payload: bytes) -> None:
        state = await self.inputs.state(MeterState, topic, payload)
        if state is None:
            return
        self.meter = state
        self._judge(state.ts)
        self._wake.set()

    def _judge(self, ts: datetime) -> None:
        """Readings arrive one at a time here, so none is missed by the loop's coalescing.
        The retained reading counts: it is the meter's latest, and the next comes one read
        interval after it. An offline meter starts the judgement again."""
        if self.meter_judged or self.meter_online is False:
            return
        if self.first_reading is None:
            self.first_reading = ts
            return
        if ts <= self.first_reading:  # the same reading again (our own reconnect)
            return
        self.too_slow = feed.too_slow(
            self.settings.meter, self.first_reading, ts, self.settings.meter_max_age
        )
        self.meter_judged = True
        if self.too_slow is None:
            log.info("meter %s fast enough to feed from", self.settings.meter)

    async def _on_meter_availability(self, topic: str, payload: bytes) -> None:
        online = await self.inputs.availability(topic, payload)
        if online is None:
            return
        self.meter_online = online
        if not online and not self.meter_judged:
            self.first_reading = None
        self._wake.set()

    async def _on_battery(self, topic: str, payload: bytes) -> None:
        state = await self.inputs.state(BatteryState, topic, payload)
        if state is not None:
            self.battery = state
            self._wake.set()

    async def _on_battery_availability(self, topic: str, payload: bytes) -> None:
        online = await self.inputs.availability(topic, payload)
        if online is not None:
            self.battery_online = online
            self._wake.set()

    async def _on_charger(self, topic: str, payload: bytes) -> None:
        name = topic.removeprefix(self.settings.prefix + "/")
        if name == CONNECTED:
            online = await self.inputs.availability(topic, payload)
            if online is not None:
                self.charger_online = online
                word = ONLINE if online else OFFLINE
                log.info("charger %s %s", self.settings.prefix, word)
                await self.bus.publish(self.bus.availability_topic, word, retain=True)
            return
        try:
            value = charger.read(name, payload)
        except KeyError:
            return  # a topic not mirrored
        except Unreadable as err:
            # logged, not sent as an event: the charger's own garbage is no one's command
            if topic not in self._unreadable:
                self._unreadable.add(topic)
                log.warning("%s: ignoring %s", topic, err)
            return
        self._unreadable.discard(topic)
        self.charger[name] = value
        self.charger_seen[name] = self.charger_seen.get(name, 0) + 1
        self.charger_heard = self.clock.now()
        self._wake.set()

    async def _on_set(self, topic: str, payload: bytes) -> None:
        try:
            command = parse_command(SmartEVSECommand, self.set_topic, topic, payload)
        except CommandError as err:
            await self._event(EventKind.REJECTED, str(err), topic=topic, id=err.command_id)
            return
        body = command.model_dump(exclude_none=True, exclude={"id"})
        base = store.in_effect(self.settings, store.Saved()) if command.reset else self.passthrough
        try:
            setting = passthrough_after(command, base, self.settings.battery)
            out = writes(command, self.charger, self.charger_online is True)
        except CommandError as err:
            await self._event(EventKind.REJECTED, str(err), topic=topic, id=command.id,
                              command=body)  # fmt: skip
            return
        self._keep(command, setting)
        for w in out:
            await self.bus.publish(f"{self.settings.prefix}/Set/{w.topic}", w.payload, qos=SET_QOS)
        if out:
            deadline = self.clock.now() + READ_BACK
            seen = dict(self.charger_seen)
            self.pending.append(Pending(tuple(out), seen, deadline, topic, command.id, body))
        else:
            await self._event(EventKind.APPLIED, None, topic=topic, id=command.id, command=body)
        self._wake.set()

    def _keep(self, command: SmartEVSECommand, setting: PassthroughSetting) -> None:
        """The passthrough in effect from now on, and saved to outlive a restart: the values
        the command gave, on top of what was saved (nothing, after `reset`)."""
        before = store.Saved() if command.reset else self.saved
        saved = store.Saved(
            passthrough=command.passthrough or before.passthrough,
            reserve=before.reserve if command.reserve is None else command.reserve,
        )
        if saved != self.saved or command.reset:
            try:
                store.save(self.saved_path, saved)
            except OSError as err:
                log.error("cannot save the passthrough in %s: %s", self.saved_path, err)
            self.saved = saved
        if setting != self.passthrough:
            log.info("passthrough now %s", setting)
        self.passthrough = setting

    async def _report_bad_input(self, topic: str, reason: str) -> None:
        await self._event(EventKind.ERROR, reason, topic=topic)

    # --- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        # offline until the charger says it is connected; the bus's last will says the same
        await self.bus.publish(self.bus.availability_topic, OFFLINE, retain=True)
        while True:
            self._wake.clear()  # before the step: whatever comes during it steps again
            until = await self._step(self.clock.now())
            await self.clock.wait(self._wake, until)

    async def _step(self, now: datetime) -> datetime | None:
        """Everything due now; returns when the next thing is due, if anything is."""
        if self.too_slow is not None:
            await self._refuse_meter(self.too_slow)
        due = [await self._feed(now), await self._passthrough(now)]
        due.append(await self._publish_charger_state(now))
        due.append(await self._answer_commands(now))
        due.append(await self._publish_feed_state(now))
        return min((d for d in due if d is not None), default=None)

    async def _feed(self, now: datetime) -> datetime | None:
        # Nothing from a meter not yet known to be fast enough: its first reading waits one
        # read interval for the second, which says whether the meter can feed at all.
        meter = self.meter if self.meter_judged and self.meter_online is not False else None
        self.feed_memory, decision = feed.decide(meter, self.feed_memory, now, self.settings.feed)
        if isinstance(decision, Feed):
            await self.bus.publish(self.set_mains, decision.payload, qos=FEED_QOS)
            self.split = decision.mains.split
            if self._not_fed is not None:
                log.info("mains feed from %s running", self.settings.meter)
                self._not_fed = None
            if decision.notice is not None:
                n = decision.notice
                log.info("%s: %s", n.code, n.reason)
                await self._event(n.kind, n.reason, code=n.code, data=n.data)
            return None
        if isinstance(decision, Wait):
            return decision.until
        self._stopped(decision)
        return None

    def _stopped(self, skip: Skip) -> None:
        """Logged when the feed stops, and when why changes; a reading fed twice is no news."""
        if skip.why is feed.NotFed.SENT or skip.why is self._not_fed:
            return
        reason = skip.reason
        if skip.why is feed.NotFed.NO_READING and not self.meter_judged:
            reason = "waiting for two readings, to know how often the meter is read"
        was_running = self._not_fed is None and self.feed_memory.sent_at is not None
        level = logging.WARNING if was_running else logging.INFO
        log.log(level, "mains feed from %s stopped: %s", self.settings.meter, reason)
        self._not_fed = skip.why

    async def _passthrough(self, now: datetime) -> datetime | None:
        if self.settings.battery is None:
            return None
        battery = self.battery if self.battery_online is not False else None
        voltage = meter_voltage(self.meter, self.settings.voltage)
        options = replace(  # the configured options, with the policy in effect now
            self.settings.passthrough_options,
            policy=self.passthrough.policy,
            reserve=self.passthrough.reserve or 0.0,
        )
        self.pass_memory, decision = passthrough.decide(
            battery, voltage, self.pass_memory, now, options
        )
        if isinstance(decision, Send):
            await self.bus.publish(self.set_battery, decision.payload, qos=FEED_QOS)
            self.passthrough_current = decision.current / DECI
            if self._not_sent is not None:
                log.info("battery passthrough from %s running", self.settings.battery)
                self._not_sent = None
            # what the same state needs next: its repeat
            self.pass_memory, decision = passthrough.decide(
                battery, voltage, self.pass_memory, now, options
            )
        if isinstance(decision, Wait):
            return decision.until
        if isinstance(decision, passthrough.Stop) and decision.reason != self._not_sent:
            log.info("battery passthrough from %s stopped: %s", self.settings.battery,
                     decision.reason)  # fmt: skip
            self._not_sent = decision.reason
            self.passthrough_current = None
        return None

    async def _publish_feed_state(self, now: datetime) -> datetime | None:
        options = self.settings.feed
        max_sum_mains = self.charger.get("MaxSumMains")
        state = FeedState(
            ts=now,
            # an offline meter stops the feed at once: nothing more will be fed from it
            feed_active=feed_active(self.feed_memory, now, options)
            and self.meter_online is not False,
            last_feed=self.feed_memory.sent_at,
            meter=self.settings.meter,
            split=self.split,
            battery=self.settings.battery,
            passthrough=self.passthrough.policy,
            reserve=self.passthrough.reserve,
            passthrough_current=self.passthrough_current,
            max_sum_mains=float(max_sum_mains) if isinstance(max_sum_mains, int) else None,
        )
        heartbeat = timedelta(seconds=self.bus.settings.heartbeat)
        last = self.published
        if last is None or not state.same_values(last) or now >= last.ts + heartbeat:
            await self.bus.publish(self.feed_topic, state, retain=True)
            self.published = last = state
        flips = active_until(self.feed_memory, options) if state.feed_active else None
        return min(d for d in (last.ts + heartbeat, flips) if d is not None)

    async def _publish_charger_state(self, now: datetime) -> datetime | None:
        """On change, and at the heartbeat while the charger is connected. While connected, `ts`
        is now: the dingo firmware publishes only on change by default (`MQTTChangeOnly`, with
        a 60 s heartbeat), so a quiet charger's last values are its present ones, and one that
        goes away says so through its last will (`<prefix>/connected`, 15 s keepalive). Not
        connected, `ts` is when it last published, and the state ages like any device's."""
        if self.charger_heard is None:
            return None
        ts = now if self.charger_online else self.charger_heard
        state = charger.charger_state(self.charger, ts)
        if state is None:
            return None
        heartbeat = timedelta(seconds=self.bus.settings.heartbeat)
        last, sent_at = self.charger_published, self._charger_sent_at
        due = sent_at is not None and now >= sent_at + heartbeat and self.charger_online is True
        if last is None or not state.same_values(last) or due:
            await self.bus.publish(self.bus.topics.state(self.device_id), state, retain=True)
            self.charger_published, self._charger_sent_at = state, now
        assert self._charger_sent_at is not None
        return self._charger_sent_at + heartbeat if self.charger_online else None

    async def _answer_commands(self, now: datetime) -> datetime | None:
        waiting: list[Pending] = []
        for p in self.pending:
            p, a = answer(p, self.charger, self.charger_seen, now)
            if a is None:
                waiting.append(p)
                continue
            if a.kind is not EventKind.APPLIED:
                log.warning("%s: %s", p.topic, a.reason)
            await self._event(a.kind, a.reason, topic=p.topic, id=p.id, command=p.command)
        self.pending = waiting
        return min((p.deadline for p in waiting), default=None)

    async def _publish_discovery(self, removed: dict[str, str] | None = None) -> None:
        t = self.bus.topics
        config = discovery(t, self.device_id, self.settings.prefix, self.feed_topic, removed)
        await self.bus.publish(t.discovery(self.device_id), config, retain=True)

    async def _on_ha_status(self, _topic: str, payload: bytes) -> None:
        """Home Assistant restarted: discovery again, then the current states."""
        if payload.strip().lower() != b"online":
            return
        await self._publish_discovery()
        if self.charger_published is not None:
            topic = self.bus.topics.state(self.device_id)
            await self.bus.publish(topic, self.charger_published, retain=True)
        if self.published is not None:
            await self.bus.publish(self.feed_topic, self.published, retain=True)

    async def _on_old_discovery(self, _topic: str, payload: bytes) -> None:
        removed = removed_components(payload, ENTITIES)
        if removed:
            log.info("removing stale discovery entities %s", sorted(removed))
            await self._publish_discovery(removed)

    async def _refuse_meter(self, reason: str) -> None:
        await self._event(EventKind.ERROR, reason, code=METER_TOO_SLOW)
        raise MeterTooSlow(
            f"WATTBUS_SMARTEVSE_METER: {reason} "
            f"(WATTBUS_SMARTEVSE_METER_MAX_AGE={self.settings.meter_max_age:g})"
        )

    async def _event(
        self,
        kind: EventKind,
        reason: str | None,
        *,
        topic: str | None = None,
        id: str | int | None = None,
        command: dict[str, object] | None = None,
        code: str | None = None,
        data: dict[str, object] | None = None,
    ) -> None:
        event = Event(ts=self.clock.now(), kind=kind, id=id, topic=topic, command=command,
                      reason=reason, code=code, data=data)  # fmt: skip
        if kind is EventKind.REJECTED:  # the README promises a log line for every refusal
            log.warning("rejected %s: %s", topic, reason)
        await self.bus.publish(self.events, event, qos=1)


async def serve(settings: SmartEVSESettings, bus_settings: BusSettings) -> None:
    bus = Bus(bus_settings, settings.id)
    bridge = SmartEVSEBridge(bus, settings)
    await run_together(bus.run(), bridge.run())  # a MeterTooSlow ends it, as it is


SERVICE = ServiceSpec("smartevse", SmartEVSESettings, serve, check_notes=store.check_notes)
