"""The day replayed, second by second, against a small Powerwall, once with wattbus's core and
once with the old tool's rules. Pure: no bus, no clock of its own; a day takes a few seconds.

**The Powerwall.** Unless held (backup mode) it discharges to cover the house and the car, up
to 5 kW. It never runs empty here: the rate is what this measures. A write (mode and reserve
together) takes effect `delay` s after it is sent, the same for both tools.

**wattbus** gets what the bus would give the controller: the Zappi's `ChargerState` as the
myenergi bridge polls it (every 15 s, `charging` in C2), the `TariffState` as the kraken bridge
publishes it (a poll when `wattbus_kraken.schedule.next_poll` allows, every 3 minutes away
from :00 and :30, then at each window's edge; the device's `SMART_CONTROL_IN_PROGRESS` read
with each poll), a meter reading every second and the Powerwall's state every 5 s.
`core.decide` runs every second, as the controller's tick; `holds.plan` says what it sends.
The bridge writes for a hold or a release that changes the battery, not for a renewal.

**The old tool** runs `dispatch_oldtool.step` every 60 s from a seeded phase, reading the list
and the Zappi in the same second.

**Into the car** is the battery's discharge beyond the house's own use while the car charges
in a cheap stretch (`dispatch_day.Cheap`): the energy the tariff meant to come from the grid.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatch_day import END, START, Day, house
from dispatch_oldtool import LOOP, OldMemory
from dispatch_oldtool import step as old_step
from wattbus.models import (
    BatteryState,
    ChargerMode,
    ChargerState,
    ControllerMode,
    DispatchWindow,
    MeterState,
    Operation,
    TariffState,
)
from wattbus_controller import core, dispatch, ev_guard
from wattbus_controller.holds import Sent, plan
from wattbus_kraken.schedule import next_poll

MAX_DISCHARGE = 5000.0  # W
# the owner's mode and reserve, restored after every hold
OWNERS: tuple[Operation, float] = ("autonomous", 20.0)
# the hold on a route that takes the full reserve (local, TEDAPI)
HELD: tuple[Operation, float] = ("backup", 100.0)
ZAPPI_EVERY = 15  # s: the myenergi bridge's poll
POWERWALL_EVERY = 5  # s: the powerwall bridge's poll on the local route
LEASE = 90.0  # s: the controller's default
BATTERY, CHARGER, TARIFF = "powerwall", "zappi", "kraken"


@dataclass(frozen=True)
class Change:
    """The Powerwall's settings changed at `at` (the write took effect), as `who` decided."""

    at: datetime
    mode: Operation
    reserve: float
    who: str


@dataclass
class Powerwall:
    delay: float
    mode: Operation = OWNERS[0]
    reserve: float = OWNERS[1]
    writes: int = 0
    pending: list[tuple[datetime, Operation, float, str]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return self.mode == "backup"

    def write(self, now: datetime, mode: Operation, reserve: float, who: str) -> None:
        self.writes += 1
        self.pending.append((now + timedelta(seconds=self.delay), mode, reserve, who))

    def advance(self, now: datetime) -> None:
        while self.pending and self.pending[0][0] <= now:
            _, mode, reserve, who = self.pending.pop(0)
            if (mode, reserve) != (self.mode, self.reserve):
                self.mode, self.reserve = mode, reserve
                self.changes.append(Change(now, mode, reserve, who))

    def discharge(self, load: float) -> float:
        return 0.0 if self.held else min(MAX_DISCHARGE, load)


@dataclass
class Result:
    name: str
    into_car: dict[str, float]  # Wh per cheap stretch
    writes: int
    changes: list[Change]
    held_outside: float  # minutes held while no stretch was cheap (what the house paid for)

    @property
    def total(self) -> float:
        return sum(self.into_car.values())


@dataclass
class Meter:
    """Sums what the battery gave the car during cheap stretches, second by second."""

    day: Day
    into_car: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    held_outside: float = 0.0

    def add(self, t: datetime, pw: Powerwall) -> float:
        """The second's grid import, for the meter."""
        load, car = house(t), self.day.car(t)
        out = pw.discharge(load + car)
        cheap = self.day.cheap_now(t)
        if cheap is not None:
            if car > 0:
                self.into_car[cheap.name] += max(0.0, out - load) / 3600
        elif pw.held:
            self.held_outside += 1 / 60
        return load + car - out

    def result(self, name: str, pw: Powerwall) -> Result:
        names = {c.name: self.into_car.get(c.name, 0.0) for c in self.day.cheap}
        return Result(name, names, pw.writes, pw.changes, self.held_outside)


def seconds() -> list[datetime]:
    return [START + timedelta(seconds=i) for i in range(int((END - START).total_seconds()))]


def settings(with_guard: bool, lead: float) -> core.CoreSettings:
    return core.CoreSettings(
        mode=ControllerMode.AUTO,
        batteries=(BATTERY,),
        guard=ev_guard.GuardSettings(charger=CHARGER),
        dispatch=dispatch.DispatchSettings(tariff=TARIFF, batteries=(BATTERY,), release_lead=lead),
        guard_batteries=None if with_guard else (),
    )


def wattbus(
    day: Day, seed: int, delay: float, with_guard: bool, lead: float = dispatch.RELEASE_LEAD
) -> Result:
    """`lead`: the s before a slot boundary a dispatch hold ends (the controller's
    `WATTBUS_CONTROLLER_DISPATCH_RELEASE_LEAD`)."""
    rng = random.Random(seed)
    zappi_phase = rng.randrange(ZAPPI_EVERY)
    poll_at = START + timedelta(seconds=rng.uniform(0, 180))  # when the kraken bridge started
    s = settings(with_guard, lead)
    pw, meter = Powerwall(delay), Meter(day)
    memories = core.Memories(ev_guard.GuardMemory(), dispatch.DispatchMemory())
    charger: ChargerState | None = None
    tariff: TariffState | None = None
    battery: BatteryState | None = None
    calls: list[datetime] = []
    fetched: datetime | None = None
    known: list[DispatchWindow] = []
    device_state: str | None = None
    edges: set[datetime] = set()
    held = releasing = False
    sent: Sent | None = None
    target = False  # what the bridge last wrote: a hold or the owner's settings
    for i, t in enumerate(seconds()):
        pw.advance(t)
        grid = meter.add(t, pw)
        if (i - zappi_phase) % ZAPPI_EVERY == 0:
            on = day.charging(t)
            code = "C2" if on else "B2"
            charger = ChargerState(ts=t, charging=on, plugged=True, power=day.car(t),
                                   mode=ChargerMode.NORMAL, status_code=code)  # fmt: skip
        publish = False
        if t >= poll_at:
            known = sorted(day.listed(t).values(), key=lambda w: w.start)
            device_state = "SMART_CONTROL_IN_PROGRESS" if day.smart_running(t) else "IDLE"
            fetched, publish = t, True
            calls = [c for c in calls if c > t - timedelta(hours=1)] + [t]
            poll_at = next_poll(t, t, calls, failures=0, need=1)
            edges = {e for w in known for e in (w.start, w.end)}
        if publish or t in edges:
            windows = [w for w in known if w.end > t]
            current = next((w for w in windows if w.start <= t), None)
            tariff = TariffState(ts=t, windows=windows, active=current is not None,
                                 current=current, device_state=device_state, source="flex",
                                 fetched=fetched)  # fmt: skip
        if i % POWERWALL_EVERY == 0:
            battery = BatteryState.model_construct(
                ts=t, soc=80.0, power=-pw.discharge(house(t) + day.car(t)), hold=pw.held,
                operation=pw.mode, reserve=pw.reserve, output_home_power=None,
                grid_input_power=None,
            )  # fmt: skip
        inputs = core.Inputs(
            ev_guard.GuardInputs(MeterState.model_construct(ts=t, power=grid),
                                 {BATTERY: battery}, charger, True),
            tariff,
            True,
        )  # fmt: skip
        memories, decision = core.decide(s, inputs, memories, t)
        verdict = decision.verdicts[BATTERY]
        p = plan(verdict.hold, battery, held, releasing, sent, t, LEASE)
        held, releasing = p.held, p.releasing
        if p.send is not None:
            sent = Sent(p.send, t)
            if p.send != target:  # a renewal or a resend changes nothing at the battery
                target = p.send
                mode, reserve = HELD if p.send else OWNERS
                pw.write(t, mode, reserve, who(decision))
    name = "wattbus, dispatch and EV guard" if with_guard else "wattbus, dispatch alone"
    return meter.result(name, pw)


def who(decision: core.Decision) -> str:
    """The policy that decided and its reason; a release nobody holds against is the one
    whose hold ended (dispatch alone: the guard has no battery to speak for)."""
    verdict = decision.verdicts[BATTERY]
    if verdict.winner is None and decision.dispatch is not None:
        return f"dispatch: {decision.dispatch.reason}"
    return f"{verdict.winner}: {verdict.reason}"


def old_tool(day: Day, seed: int, delay: float) -> Result:
    rng = random.Random(seed)
    phase = rng.uniform(0, LOOP)
    pw, meter = Powerwall(delay), Meter(day)
    memory = OldMemory()
    next_pass = START + timedelta(seconds=phase)
    for t in seconds():
        pw.advance(t)
        meter.add(t, pw)
        if t >= next_pass:
            next_pass += timedelta(seconds=LOOP)
            listed = sorted(day.listed(t).values(), key=lambda w: w.start)
            memory, writes = old_step(memory, t, listed, day.charging(t), OWNERS)
            for w in writes:
                pw.write(t, w.mode, w.reserve, f"old tool: {w.rule}")
    return meter.result("old tool", pw)
