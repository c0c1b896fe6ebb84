"""The Kraken bridge's I/O shell: polls the supplier when the schedule allows, keeps each
window's life cycle in the store, and publishes the windows as a `TariffState`.

It does not use the generic `wattbus.bridge.Bridge`. That shell reads its device every
interval and, after a failure, retries within 30 s, which is what a LAN device wants and what
a supplier's API must never get: here the schedule (`schedule.py`) decides, from every
request made in the last hour, and backs off up to 30 minutes. And the state must change
between polls, to the second, when a window starts or ends: the loop sleeps until the next
poll, the next window edge or the heartbeat, whichever comes first, by `clock` (a test moves
it by hand). A refused login is not an unreachable device either: it has its own `error`
code, one log line, and the slowest retry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, cast

from wattbus.bus import OFFLINE, ONLINE, Bus
from wattbus.clock import Clock, SystemClock
from wattbus.commands import CommandError, parse_command
from wattbus.discovery import DeviceInfo, removed_components
from wattbus.models import Command, DispatchKind, Event, EventKind, OnlyTrue, TariffState
from wattbus.service import ServiceSpec
from wattbus.settings import BusSettings
from wattbus.stopping import run_together

from wattbus_kraken import lifecycle, schedule
from wattbus_kraken.account import KrakenAccount, Reading
from wattbus_kraken.client import KrakenClient
from wattbus_kraken.entities import ENTITIES, discovery
from wattbus_kraken.exceptions import AccountNotFoundError, AuthFailedError, KrakenError
from wattbus_kraken.lifecycle import Change, Status
from wattbus_kraken.settings import KrakenSettings
from wattbus_kraken.store import Store, path_of
from wattbus_kraken.windows import Dispatch, next_change, normalise, running

log = logging.getLogger(__name__)

# Without a good poll for this long the windows are not to be trusted: `offline`. It is past
# the longest back-off, so one throttled hour's slow polls do not make the tariff flicker.
STALE_AFTER = schedule.MAX_BACKOFF + timedelta(minutes=5)
# a refused login or account: tried again only this seldom (schedule.backoff's cap)
SETTINGS_FAILURES = 16
SUPPLIERS = {"octopus": ("Octopus Energy", "Intelligent Octopus"),
             "eon": ("E.ON Next", "Next Drive Smart")}  # fmt: skip


class KrakenCommand(Command):
    """`{"refresh": true}`: poll now, if the schedule's rules allow it."""

    refresh: OnlyTrue | None = None


@dataclass(frozen=True)
class Pending:
    topic: str
    id: str | int | None
    command: dict[str, object]


class KrakenBridge:
    def __init__(
        self,
        bus: Bus,
        settings: KrakenSettings,
        clock: Clock | None = None,
        *,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.bus = bus
        self.settings = settings
        self.clock = clock or SystemClock()
        self.jitter = jitter
        self.device_id = settings.id
        self.store = Store(path_of(settings.state_dir, settings.id))
        # the requests of the last hour, kept so that a restart does not reset the budget
        saved_calls = json.loads(self.store.meta("calls") or "[]")
        self.calls = [datetime.fromisoformat(c) for c in saved_calls]
        self.client = KrakenClient(
            settings.endpoint, settings.credentials, clock=self.clock.now, on_request=self._count
        )
        followed = settings.device or self.store.meta("device_id")
        self.account = KrakenAccount(
            self.client, settings.account, device_id=followed, on_device=self._learnt_device
        )
        self.account.fixed = settings.device is not None
        fetched = self.store.meta("fetched")
        self.fetched = datetime.fromisoformat(fetched) if fetched else None
        self.source = cast(Literal["flex", "planned"] | None, self.store.meta("source"))
        self.device_state = self.store.meta("device_state")
        self.last_poll: datetime | None = None
        self.failures = 0
        now = self.clock.now()
        self.next_poll = schedule.next_poll(
            now, None, self.calls, failures=0, need=self.account.requests(now)
        )
        self.available: bool | None = None
        self.reported: str | None = None  # the error code said for the failures going on
        self.pending: Pending | None = None
        self.published: TariffState | None = None
        self._published_at: datetime | None = None
        self._wake = asyncio.Event()

        t = bus.topics
        self.set_topic = t.set(settings.id)
        bus.route(self.set_topic, self._on_set)
        bus.route(self.set_topic + "/+", self._on_set)
        if bus.settings.discovery:
            bus.route(t.ha_status, self._on_ha_status)
            bus.route(t.discovery(settings.id), self._on_old_discovery)
            bus.on_connect(self._publish_discovery)

    async def close(self) -> None:
        await self.client.close()
        await self.store.close()

    @property
    def info(self) -> DeviceInfo:
        manufacturer, model = SUPPLIERS[self.settings.supplier]
        return DeviceInfo(self.device_id, f"{model} tariff", manufacturer, model)

    # --- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        # A restart keeps the store: windows read minutes ago are as good as before it, and
        # the first poll may wait minutes (the hourly budget, the quiet minutes around :00
        # and :30). Saying `offline` until then would end a dispatch hold for nothing.
        now = self.clock.now()
        self.available = self.fetched is not None and now - self.fetched < STALE_AFTER
        await self.bus.publish(
            self.bus.availability_topic, ONLINE if self.available else OFFLINE, retain=True
        )
        # the first poll's events (its notices, a refused login said only once) are not
        # retained: sent before the broker is reached, they would be lost
        await self.bus.connected.wait()
        while True:
            self._wake.clear()  # before the step: a command during it steps again
            until = await self.step(self.clock.now())
            await self.clock.wait(self._wake, until)

    async def step(self, now: datetime) -> datetime:
        """Everything due at `now` (a poll, a refresh asked for, windows that ended, the
        state); returns when the next thing is due."""
        if self.pending is not None:
            await self._answer_refresh(now)
        elif now >= self.next_poll:
            await self._poll(now)
        rows, changes = lifecycle.ended(self.store.windows(), now)
        if rows:
            self.store.save(rows)
            await self._notices(changes)
        return min(self.next_poll, await self._publish(now))

    async def _poll(self, now: datetime) -> KrakenError | None:
        """One poll, and when the next is due. Returns the error it met, if any."""
        self.last_poll = now
        spare = schedule.MAX_CALLS - len(self._recent(now)) - self.account.requests(now)
        try:
            reading = await self.account.read(now, spare=max(spare, 0))
        except KrakenError as err:
            settings_wrong = isinstance(err, AuthFailedError | AccountNotFoundError)
            self.failures = SETTINGS_FAILURES if settings_wrong else self.failures + 1
            self._schedule(now)
            await self._failed(err, now, settings_wrong)
            return err
        self.failures = 0
        self._schedule(now)
        await self._took(reading, now)
        return None

    def _schedule(self, now: datetime) -> None:
        def at(need: int) -> datetime:
            return schedule.next_poll(now, self.last_poll, self.calls, failures=self.failures,
                                      need=need, interval=self.settings.interval,
                                      jitter=self.jitter())  # fmt: skip

        t = at(1)
        if self.account.requests(t) > 1:  # the token is due by then: one request more
            t = at(self.account.requests(t))
        self.next_poll = t
        self.calls = self._recent(now)
        self.store.set_meta({"calls": json.dumps([c.isoformat() for c in self.calls])})

    def _recent(self, now: datetime) -> list[datetime]:
        return [c for c in self.calls if c > now - schedule.HOUR]

    def _count(self, at: datetime) -> None:
        self.calls.append(at)

    def _learnt_device(self, device: str) -> None:
        self.store.set_meta({"device_id": device})

    async def _took(self, reading: Reading, now: datetime) -> None:
        planned = None if reading.planned is None else normalise(reading.planned)
        completed = None if reading.completed is None else normalise(reading.completed)
        rows, changes = lifecycle.reconcile(
            self.store.windows(), planned, completed, now, lambda: uuid.uuid4().hex
        )
        self.store.save(rows)
        self.store.prune(now, self.settings.retention)
        self.source = reading.source
        self.device_state = reading.device_state
        if reading.planned is not None:
            self.fetched = now
        self.store.set_meta({
            "fetched": self.fetched.isoformat() if self.fetched else None,
            "source": self.source,
            "device_state": self.device_state,
        })  # fmt: skip
        if self.reported is not None:
            log.info("%s: dispatches read again", self.device_id)
            self.reported = None
        if self.available is not True:
            self.available = True
            await self.bus.publish(self.bus.availability_topic, ONLINE, retain=True)
        await self._notices(changes)

    async def _failed(self, err: KrakenError, now: datetime, settings_wrong: bool) -> None:
        """Said once per failure and kind (a log line and an `error` event), not at every
        retry; `offline` at once for settings that cannot work, else once the windows are
        too old to trust."""
        retry = f"next try at {self.next_poll:%H:%M:%S} UTC"
        if err.code != self.reported:
            self.reported = err.code
            log.warning("%s: %s: %s; %s", self.device_id, err.code, err, retry)
            data: dict[str, object] = {"retry_at": self.next_poll.isoformat()}
            if err.kraken_code:
                data["kraken_code"] = err.kraken_code
            await self._event(EventKind.ERROR, f"{err}; {retry}", code=err.code, data=data)
        else:
            log.debug("%s: %s again: %s", self.device_id, err.code, err)
        stale = self.fetched is None or now - self.fetched >= STALE_AFTER
        if (settings_wrong or stale) and self.available is not False:
            self.available = False
            await self.bus.publish(self.bus.availability_topic, OFFLINE, retain=True)

    # --- publishing --------------------------------------------------------------------------

    def state(self, now: datetime) -> TariffState:
        """The windows not yet ended (withdrawn ones aside), merged again: a window that ran
        to plan and a new one right after it are one stretch of cheap slots."""
        kept = [s for s in self.store.windows() if s.status is not Status.WITHDRAWN]
        windows = [w.published() for w in normalise(
            Dispatch(s.start, s.end, s.kind, s.energy) for s in kept if s.end > now)]  # fmt: skip
        current = running(windows, now)
        return TariffState(
            ts=now,
            windows=windows,
            active=current is not None and current.kind is DispatchKind.SMART,
            current=current,
            device_state=self.device_state,
            source=self.source,
            fetched=self.fetched,
        )

    async def _publish(self, now: datetime) -> datetime:
        """On change and at the heartbeat; returns when to look again."""
        state = self.state(now)
        heartbeat = timedelta(seconds=self.bus.settings.heartbeat)
        due = self._published_at is None or now >= self._published_at + heartbeat
        if due or not state.same_values(self.published):
            await self.bus.publish(self.bus.topics.state(self.device_id), state, retain=True)
            self.published, self._published_at = state, now
        assert self._published_at is not None
        edge = next_change(state.windows, now)
        return min(t for t in (edge, self._published_at + heartbeat) if t is not None)

    async def _notices(self, changes: list[Change]) -> None:
        for c in changes:
            reason, data = describe(c)
            log.info("%s: %s: %s", self.device_id, c.code, reason)
            await self._event(EventKind.NOTICE, reason, code=c.code, data=data)

    # --- commands ----------------------------------------------------------------------------

    async def _on_set(self, topic: str, payload: bytes) -> None:
        try:
            command = parse_command(KrakenCommand, self.set_topic, topic, payload)
        except CommandError as err:
            await self._event(EventKind.REJECTED, str(err), topic=topic, id=err.command_id)
            return
        body = command.model_dump(exclude_none=True, exclude={"id"})
        now = self.clock.now()
        allowed = self._refresh_at(now)
        if allowed > now:
            reason = f"the rate limit allows the next poll at {allowed:%H:%M:%S} UTC"
            await self._event(EventKind.REJECTED, reason, topic=topic, id=command.id,
                              command=body)  # fmt: skip
        elif self.pending is not None:
            await self._event(EventKind.REJECTED, "a refresh is already on its way",
                              topic=topic, id=command.id, command=body)  # fmt: skip
        else:
            self.pending = Pending(topic, command.id, body)
            self._wake.set()

    def _refresh_at(self, now: datetime) -> datetime:
        need = self.account.requests(now)
        return schedule.refresh_at(now, self.last_poll, self._recent(now), need)

    async def _answer_refresh(self, now: datetime) -> None:
        p, self.pending = self.pending, None
        assert p is not None
        allowed = self._refresh_at(now)
        if allowed > now:  # a poll ran since the command came
            reason = f"the rate limit allows the next poll at {allowed:%H:%M:%S} UTC"
            await self._event(EventKind.REJECTED, reason, topic=p.topic, id=p.id,
                              command=p.command)  # fmt: skip
            return
        err = await self._poll(now)
        if err is None:
            planned = len(self.state(now).windows)
            note = f"polled: {planned} window{'s' * (planned != 1)} planned"
            await self._event(EventKind.APPLIED, note, topic=p.topic, id=p.id, command=p.command)
        else:
            await self._event(EventKind.ERROR, f"poll failed: {err}", topic=p.topic, id=p.id,
                              command=p.command)  # fmt: skip

    # --- discovery, events -------------------------------------------------------------------

    async def _publish_discovery(self, removed: dict[str, str] | None = None) -> None:
        config = discovery(self.bus.topics, self.info, removed)
        await self.bus.publish(self.bus.topics.discovery(self.device_id), config, retain=True)

    async def _on_ha_status(self, _topic: str, payload: bytes) -> None:
        """Home Assistant restarted: discovery again, then the current state."""
        if payload.strip().lower() != b"online":
            return
        await self._publish_discovery()
        if self.published is not None:
            topic = self.bus.topics.state(self.device_id)
            await self.bus.publish(topic, self.published, retain=True)

    async def _on_old_discovery(self, _topic: str, payload: bytes) -> None:
        removed = removed_components(payload, ENTITIES)
        if removed:
            log.info("%s: removing stale discovery entities %s", self.device_id, sorted(removed))
            await self._publish_discovery(removed)

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
            log.warning("%s: rejected %s: %s", self.device_id, topic, reason)
        await self.bus.publish(self.bus.topics.event(self.device_id), event, qos=1)


def describe(c: Change) -> tuple[str, dict[str, object]]:
    """A notice's reason and data."""
    w = c.window
    span = f"{w.kind} window {w.start:%d %b %H:%M}-{w.end:%H:%M} UTC"
    data: dict[str, object] = {
        "window": w.id, "sequence": w.sequence, "kind": str(w.kind),
        "start": w.start.isoformat(), "end": w.end.isoformat(),
    }  # fmt: skip
    if w.energy is not None:
        data["energy"] = w.energy
    if c.code == lifecycle.MOVED and c.before is not None:
        b = c.before
        data |= {"was_start": b.start.isoformat(), "was_end": b.end.isoformat(),
                 "original_start": w.original_start.isoformat(),
                 "original_end": w.original_end.isoformat()}  # fmt: skip
        return f"{span} (moved from {b.start:%H:%M}-{b.end:%H:%M})", data
    words = {lifecycle.PLANNED: "planned", lifecycle.WITHDRAWN: "withdrawn",
             lifecycle.COMPLETED: "completed"}  # fmt: skip
    return f"{span} {words.get(c.code, c.code)}", data


async def serve(settings: KrakenSettings, bus_settings: BusSettings) -> None:
    bus = Bus(bus_settings, settings.id)
    bridge = KrakenBridge(bus, settings)
    try:
        await run_together(bus.run(), bridge.run())
    finally:
        await bridge.close()


SERVICE = ServiceSpec("kraken", KrakenSettings, serve)
