"""The controller's I/O shell: feeds bus states into the pure core (the policies and the
arbiter) and carries each battery's verdict to it as a leased hold, renewed well before it runs
out."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from wattbus.bus import Bus, Handler
from wattbus.commands import CommandError, parse_command
from wattbus.discovery import device_config
from wattbus.inputs import BusInputs
from wattbus.models import (
    BatteryState,
    ChargerState,
    ControllerCommand,
    Event,
    EventKind,
    InverterState,
    MeterState,
    PlugState,
    State,
    TariffState,
    utcnow,
)
from wattbus.service import ServiceSpec
from wattbus.settings import BusSettings
from wattbus.stopping import run_together
from wattbus.topics import CONTROLLER_ID

from wattbus_controller import invites
from wattbus_controller import memory as store
from wattbus_controller.arbiter import Verdict
from wattbus_controller.core import CoreSettings, Decision, Inputs, Memories, decide
from wattbus_controller.dispatch import (
    DispatchInputs,
    DispatchMemory,
    DispatchSettings,
    usable_tariff,
)
from wattbus_controller.ev_guard import GuardInputs, GuardSettings
from wattbus_controller.holds import Sent, plan
from wattbus_controller.invite_sender import RETRY_DELAYS, InviteSender
from wattbus_controller.notices import notices
from wattbus_controller.orders import Orders
from wattbus_controller.overrides import (
    RUN_TIME,
    SetError,
    check_notes,
    describe,
    overrides,
    requested_strategies,
)
from wattbus_controller.settings import ControllerSettings
from wattbus_controller.state import DEVICE, ENTITIES, ControllerState, strategy_entities
from wattbus_controller.surplus import BatteryPriority
from wattbus_controller.watch import HealthWatch

log = logging.getLogger(__name__)
S = TypeVar("S", bound=State)


class Controller:
    def __init__(
        self,
        bus: Bus,
        settings: ControllerSettings,
        clock: Callable[[], datetime] = utcnow,
        invite_retries: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.bus = bus
        self.settings = settings
        self.clock = clock
        self.path = settings.state_dir / store.FILE_NAME
        with contextlib.suppress(OSError):  # made once; if it cannot be, each save says so
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.memory = store.load(self.path)
        for line in describe(overrides(settings, self.memory)):
            log.warning("%s", line)
        self.meter: MeterState | None = None
        self.batteries: dict[str, BatteryState | None] = dict.fromkeys(settings.batteries)
        # every charger whose state counts: the guard's and the tracked ones
        charger_ids = dict.fromkeys([*([settings.charger] if settings.charger else []),
                                     *settings.solar_chargers])  # fmt: skip
        self.chargers: dict[str, ChargerState | None] = dict(charger_ids)
        self.chargers_online: dict[str, bool | None] = dict(charger_ids)  # None: not heard yet
        self.inverters: dict[str, InverterState | None] = dict.fromkeys(settings.solar_pv)
        self.plugs: dict[str, PlugState | None] = dict.fromkeys(settings.plugs)
        self.plugs_online: dict[str, bool | None] = dict.fromkeys(settings.plugs)
        self.tariff: TariffState | None = None
        self.tariff_online: bool | None = None
        self.sent: dict[str, Sent] = {}  # last command per battery
        self.published: ControllerState | None = None
        self._ids = itertools.count(1)
        self.orders = Orders(bus, settings.solar_chargers, self._ids)
        self._lock = asyncio.Lock()
        self.inputs = BusInputs(log, self._report_bad_input)
        self.health = HealthWatch(bus, self.inputs, clock, interval=settings.health_interval,
                                  status_interval=settings.status_interval,
                                  announce=self._publish_discovery)  # fmt: skip
        self.invites: InviteSender | None = None
        if settings.invites:
            self.invites = InviteSender(settings, self._invite_failed, clock, invite_retries)

        t = bus.topics
        bus.route(t.state(settings.meter), self._on_meter)
        for b in settings.batteries:
            bus.route(t.state(b), self._keep(BatteryState, self.batteries))
        # a charger's word is evaluated at once, as a meter state is: it is the fastest signal
        for cid in self.chargers:
            bus.route(t.state(cid), self._keep(ChargerState, self.chargers, at_once=True))
            bus.route(t.availability(cid), self._keep_availability(self.chargers_online, True))
        for inverter in self.inverters:
            bus.route(t.state(inverter), self._keep(InverterState, self.inverters))
        for plug in self.plugs:
            bus.route(t.state(plug), self._keep(PlugState, self.plugs))
            bus.route(t.availability(plug), self._keep_availability(self.plugs_online))
        if settings.tariff is not None:
            bus.route(t.state(settings.tariff), self._on_tariff)
            bus.route(t.availability(settings.tariff), self._on_tariff_availability)
        bus.route(t.set(CONTROLLER_ID), self._on_set)
        bus.route(t.set(CONTROLLER_ID) + "/+", self._on_set)
        if bus.settings.discovery:
            bus.route(t.ha_status, self._on_ha_status)
            bus.on_connect(self._publish_discovery)

    @property
    def core_settings(self) -> CoreSettings:
        m, s = self.memory, self.settings
        guard = GuardSettings(
            threshold=s.threshold if m.threshold is None else m.threshold,
            confirm=s.confirm if m.confirm is None else m.confirm,
            release=s.release if m.release is None else m.release,
            stale_after=s.stale_after,
            charger=s.charger,
        )
        dispatch = DispatchSettings(
            tariff=s.tariff,
            batteries=tuple(s.batteries if s.dispatch_batteries is None else s.dispatch_batteries),
            cheap_start=s.cheap_hours[0],
            cheap_end=s.cheap_hours[1],
            timezone=s.timezone,
            release_lead=s.dispatch_release_lead,
            stale_after=s.tariff_stale_after,
        )
        guarded = None if s.guard_batteries is None else tuple(s.guard_batteries)
        priority = BatteryPriority(
            priority_soc=s.solar_battery_soc,
            battery_max_charge=s.solar_battery_max_charge,
            battery_assist=s.solar_battery_assist,
        )
        return CoreSettings(
            m.mode or s.mode, tuple(s.batteries), guard, dispatch, guarded,
            charging=s.tracking(m.strategies), priority=priority,
            solar_battery=s.solar_battery or s.batteries[0], pv=tuple(s.solar_pv),
            plugs=s.plugging,
        )  # fmt: skip

    @property
    def charger(self) -> ChargerState | None:
        """The guard's charger, if one is configured."""
        return None if self.settings.charger is None else self.chargers[self.settings.charger]

    async def run(self) -> None:
        senders = [] if self.invites is None else [self.invites.run()]
        await run_together(self._tick(), self.health.run(), *senders)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick)
            await self.evaluate()

    async def _on_meter(self, topic: str, payload: bytes) -> None:
        state = await self.inputs.state(MeterState, topic, payload)
        if state is not None:
            self.meter = state
            await self.evaluate()

    def _keep(self, model: type[S], into: dict[str, S | None], at_once: bool = False) -> Handler:
        """A handler that keeps each device's last good state in `into`, by its id."""

        async def handler(topic: str, payload: bytes) -> None:
            state = await self.inputs.state(model, topic, payload)
            device = self.bus.topics.device_of(topic)
            if state is not None and device in into:
                into[device] = state
                if at_once:
                    await self.evaluate()

        return handler

    def _keep_availability(self, into: dict[str, bool | None], at_once: bool = False) -> Handler:
        async def handler(topic: str, payload: bytes) -> None:
            online = await self.inputs.availability(topic, payload)
            device = self.bus.topics.device_of(topic)
            if online is not None and device in into:
                into[device] = online
                if at_once:
                    await self.evaluate()

        return handler

    async def _on_tariff(self, topic: str, payload: bytes) -> None:
        """Evaluated at once: a window that starts is acted on at its planned start."""
        state = await self.inputs.state(TariffState, topic, payload)
        if state is not None:
            self.tariff = state
            await self.evaluate()

    async def _on_tariff_availability(self, topic: str, payload: bytes) -> None:
        online = await self.inputs.availability(topic, payload)
        if online is not None:
            self.tariff_online = online
            await self.evaluate()

    async def _report_bad_input(self, topic: str, reason: str) -> None:
        await self._event(EventKind.ERROR, topic, reason, None)

    async def evaluate(self) -> None:
        async with self._lock:
            now = self.clock()
            cs = self.core_settings
            guard = self.settings.charger
            guard_online = None if guard is None else self.chargers_online[guard]
            inputs = Inputs(
                GuardInputs(self.meter, self.batteries, self.charger, guard_online),
                self.tariff,
                self.tariff_online,
                chargers={c: self.chargers[c] for c in self.settings.solar_chargers},
                chargers_online=self.chargers_online,
                inverters=self.inverters,
                plugs=self.plugs,
                plugs_online=self.plugs_online,
            )
            memories = Memories(self.memory.guard, self.memory.dispatch, self.memory.charging,
                                self.memory.plugs)  # fmt: skip
            after, decision = decide(cs, inputs, memories, now)
            asserted, releasing = await self._carry_out(decision.verdicts, now)
            await self.orders.drive(decision.chargers, self.chargers, now)
            await self.orders.switch(decision.plugs, self.plugs, now)
            book, invite_actions = self._plan_invites(cs.dispatch, after.dispatch, decision, now)
            before = self.memory
            self._remember(
                guard=after.guard,
                dispatch=after.dispatch,
                charging=after.charging,
                plugs=after.plugs,
                asserted=asserted,
                releasing=releasing,
                invites=book,
            )
            if self.invites is not None:
                for action in invite_actions:
                    self.invites.submit(action)
            for notice in notices(before, self.memory, decision, cs.guard, now):
                log.info("%s: %s", notice.code, notice.reason)
                await self.bus.publish(self.bus.topics.event(CONTROLLER_ID), notice, qos=1)
            state = ControllerState(
                ts=now,
                mode=cs.mode,
                threshold=cs.guard.threshold,
                confirm=cs.guard.confirm,
                release=cs.guard.release,
                ev_charging=decision.guard.charging,
                house_power=decision.guard.house_power,
                signal=decision.guard.signal,
                holding=sorted(asserted),
                reason=decision.reason,
                meter=self.settings.meter,
                batteries=self.settings.batteries,
                charger=self.settings.charger,
                tariff=self.settings.tariff,
                dispatch_until=after.dispatch.until,
                dispatch_sign=after.dispatch.sign,
                overrides=overrides(self.settings, self.memory),
                devices=decision.verdicts,
                policies=decision.policies,
                chargers=decision.chargers,
                strategies={} if cs.charging is None else
                {cid: c.strategy for cid, c in cs.charging.chargers.items()},
                surplus=None if decision.surplus is None else round(decision.surplus.car, 1),
                cloudy=decision.cloudy if cs.charging and cs.charging.pv_peak > 0 else None,
                plugs=decision.plugs,
            )  # fmt: skip
            last = self.published
            heartbeat_due = last is None or (
                (now - last.ts).total_seconds() >= self.bus.settings.heartbeat
            )
            if heartbeat_due or not state.same_values(last):
                await self.bus.publish(self.bus.topics.state(CONTROLLER_ID), state, retain=True)
                self.published = state

    def _plan_invites(
        self, s: DispatchSettings, hold: DispatchMemory, decision: Decision, now: datetime
    ) -> tuple[invites.Book, list[invites.Action]]:
        """The invites' book after this evaluation, and what to send; nothing with invites off.
        A tariff that cannot be trusted now is passed as unknown, so its silence never
        cancels an invite."""
        if self.invites is None or s.tariff is None:
            return self.memory.invites, []
        car = decision.guard
        inputs = DispatchInputs(self.tariff, self.tariff_online, car.charging, car.reason)
        tariff, _ = usable_tariff(s, inputs, now, holding=False)
        charger = self.charger
        power = charger.power if charger is not None and charger.charging else None
        return invites.plan(s.tariff, hold, tariff, power, self.memory.invites, now)

    async def _invite_failed(self, action: invites.Action, reason: str) -> None:
        i = action.invite
        event = Event(
            ts=self.clock(),
            kind=EventKind.ERROR,
            code="invite_failed",
            reason=f"invite ({action.kind}) for {i.start:%H:%M}-{i.end:%H:%M} UTC not sent: "
            f"{reason}",
            data={"action": action.kind, "uid": i.uid, "sequence": i.sequence,
                  "start": i.start.isoformat(), "end": i.end.isoformat()},
        )  # fmt: skip
        await self.bus.publish(self.bus.topics.event(CONTROLLER_ID), event, qos=1)

    async def _carry_out(
        self, verdicts: dict[str, Verdict], now: datetime
    ) -> tuple[frozenset[str], frozenset[str]]:
        """Send each battery what `plan` makes of its verdict; the batteries held and being
        released after."""
        held: set[str] = set()
        releasing: set[str] = set()
        for battery_id, verdict in verdicts.items():
            p = plan(
                verdict.hold,
                self.batteries.get(battery_id),
                battery_id in self.memory.asserted,
                battery_id in self.memory.releasing,
                self.sent.get(battery_id),
                now,
                self.settings.lease,
            )
            if p.send is not None:
                await self._send(battery_id, p.send, now)
            if p.held:
                held.add(battery_id)
            if p.releasing:
                releasing.add(battery_id)
        return frozenset(held), frozenset(releasing)

    async def _send(self, battery_id: str, hold: bool, now: datetime) -> None:
        command: dict[str, object] = {"hold": hold, "id": f"controller-{next(self._ids)}"}
        if hold:
            command["lease"] = self.settings.lease
        await self.bus.publish(self.bus.topics.set(battery_id), command, qos=1)
        last = self.sent.get(battery_id)
        self.sent[battery_id] = Sent(hold, now)
        # after the publish: not in its way. Renewals and resends (every 5 s while a bridge is
        # down) only at debug, so that hours of them do not bury the log
        level = logging.INFO if last is None or last.hold != hold else logging.DEBUG
        log.log(level, "%s: %s", battery_id, "hold" if hold else "release")

    def _remember(self, **changes: object) -> None:
        """Persist after the command that made the change is sent (a crash before this line
        is covered by the lease). On the loop: a small write and a rename, unsynced, cost less
        than waking a worker thread for them while the bridge is busy with the command."""
        updated = self.memory.model_copy(update=changes)
        if updated != self.memory:
            self.memory = updated
            store.save(self.path, updated)

    async def _on_set(self, topic: str, payload: bytes) -> None:
        set_topic = self.bus.topics.set(CONTROLLER_ID)
        try:
            command = parse_command(ControllerCommand, set_topic, topic, payload)
        except CommandError as err:
            await self._event(EventKind.REJECTED, topic, str(err), err.command_id)
            return
        try:
            strategies = requested_strategies(command, self.settings.solar_chargers)
        except SetError as err:
            log.warning("rejected %s: %s", topic, err)
            await self._event(EventKind.REJECTED, topic, str(err), command.id)
            return
        changes = command.model_dump(exclude_none=True, exclude={"id"})
        if command.reset:
            self._drop_overrides()
        saved = {k: v for k, v in changes.items() if k not in ("reset", "strategy", "strategies")}
        if strategies is not None:
            saved["strategies"] = {**(self.memory.strategies or {}), **strategies}
        self._remember(**saved)
        await self._event(EventKind.APPLIED, topic, None, command.id, changes)
        await self.evaluate()

    def _drop_overrides(self) -> None:
        """The configured settings apply again; values in the same command are saved after."""
        for line in describe(overrides(self.settings, self.memory)):
            log.info("reset: dropped %s", line)
        self._remember(**dict.fromkeys(RUN_TIME))

    async def _event(
        self,
        kind: EventKind,
        topic: str,
        reason: str | None,
        command_id: str | int | None,
        command: dict[str, object] | None = None,
    ) -> None:
        if kind is EventKind.REJECTED:  # the README promises a log line for every refusal
            log.warning("rejected %s: %s", topic, reason)
        event = Event(
            ts=self.clock(), kind=kind, id=command_id, topic=topic, reason=reason, command=command
        )
        await self.bus.publish(self.bus.topics.event(CONTROLLER_ID), event, qos=1)

    async def _publish_discovery(self) -> None:
        entities = ENTITIES + strategy_entities(list(self.settings.solar_chargers))
        entities += self.health.entities()
        config = device_config(self.bus.topics, DEVICE, entities)
        await self.bus.publish(self.bus.topics.discovery(CONTROLLER_ID), config, retain=True)

    async def _on_ha_status(self, _topic: str, payload: bytes) -> None:
        if payload.strip().lower() == b"online":
            await self._publish_discovery()
            if self.published is not None:
                topic = self.bus.topics.state(CONTROLLER_ID)
                await self.bus.publish(topic, self.published, retain=True)


async def serve(settings: ControllerSettings, bus_settings: BusSettings) -> None:
    bus = Bus(bus_settings, CONTROLLER_ID)
    controller = Controller(bus, settings)
    await run_together(bus.run(), controller.run())


SERVICE = ServiceSpec("controller", ControllerSettings, serve, check_notes=check_notes)
