"""Charging strategies: what current each tracked charger should offer, and on how many phases.

A pure policy: `step(settings, inputs, memory, now) -> (memory, targets)`. The strategies:

- `off`: no charging;
- `slow`: the least current now, from anywhere; it moves to `tracked` by itself while the house
  battery is above `slow_to_tracked_soc` and the sky is clear;
- `fast`: the most current now;
- `tracked`: surplus only: starts once the surplus has covered the least current for
  `start_delay`, stops once it has fallen short for `stop_delay`;
- `min_pv`: the least current now, more from surplus.

Every strategy stops when the car is full: it takes a fifth of what it is offered, or nothing,
for `full_after` while plugged in. Only unplugging (or a new strategy) starts again.

Why the control is built as it is, each against a failure other tools' users report:
- The surplus counts the car's own draw, so a change the car has not followed yet is not taken
  for new surplus; the current goes up at most every `change_interval`, with a margin, and down
  only when the meter (which lags nothing) shows a shortfall. A charger polled seconds behind
  the meter cannot make the current swing around the PV (evcc #8076).
- A charger that reports no power (only that it charges) has its car's draw worked out from
  the current offered, never taken as nothing: nothing would look like a shortfall, stop the
  charge and loop through the stop delay (evcc #29816).
- A charge on three switchable phases that the surplus can no longer hold goes down to one
  instead of stopping, where one phase's least current is covered.
- The phase count is judged on every step from the surplus alone, in pauses too: a charger
  switched to 1 phase by a cloud goes back to 3 once the sun returns (evcc #21328), and a switch
  carries the current the surplus gives on the new phases, never the maximum (evcc #7362).
- Surplus the house battery cannot absorb goes to the car (evcc #21718), see `surplus.py`.
- A shortfall the house battery covers may last the stop delay; one that draws on the grid
  stops the charge after `import_stop_delay`: under broken cloud on the bench days this halves
  the grid import, at the cost of more stops.
- The phases in use come from the charger when it reports them (a car on 2 phases, a tripped
  fuse), so currents are worked out on the phases that really draw.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from wattbus.models import BatteryState, ChargerState
from wattbus.models import ChargingStrategy as Strategy

from wattbus_controller import phases as phase_rules
from wattbus_controller.clouds import Sky
from wattbus_controller.currents import Range, watts, within
from wattbus_controller.surplus import VOLTAGE, Surplus, car_draw

MIN_CURRENT = 6.0  # A: IEC 61851's least charging current
START_DELAY = 60.0  # s of surplus before tracking starts a charge
STOP_DELAY = 300.0  # s of shortfall the house battery covers before it stops one
# a shortfall the house battery cannot cover, so that the grid gives more than IMPORT_MARGIN W,
# stops a tracked charge sooner: the battery may ride out a shade, the grid may not
IMPORT_STOP_DELAY = 60.0
IMPORT_MARGIN = 300.0
SETTLE = 30.0  # s a car gets to take a new charge before it may count as full
CHANGE_INTERVAL = 20.0  # s at least before the current goes up again
UP_MARGIN = 100.0  # W beyond the next step before the current goes up
FULL_AFTER = 300.0  # s a car takes (almost) nothing before it counts as full
FULL_SHARE = 0.2  # of the offered power: less than this is "(almost) nothing"
SLOW_SOC = 80.0  # % of house battery above which slow becomes tracked in a clear sky
SLOW_BACK = 5.0  # % under it before tracked becomes slow again


@dataclass(frozen=True)
class ChargerSettings:
    strategy: Strategy = Strategy.TRACKED  # the configured one, or the one set at run time
    phases: phase_rules.PhaseChoice = 3
    min_current: float = MIN_CURRENT
    max_current: float = 16.0
    step: float = 1.0  # A the charger takes its current in
    voltage: float = VOLTAGE
    # the charger tracks the surplus itself (a Zappi in Eco+): the strategy picks its mode, and
    # no current, delay or phase count of the policy's applies to it
    follows_sun: bool = False


@dataclass(frozen=True)
class ChargingSettings:
    chargers: Mapping[str, ChargerSettings]  # in priority order: the first gets surplus first
    pv_peak: float = 0.0  # W the array gives at most, for cloud detection; 0: no detection
    start_margin: float = 0.0  # W beyond the least current's power before a start counts
    stop_margin: float = 0.0  # W of shortfall at the least current that is tolerated
    start_delay: float = START_DELAY
    stop_delay: float = STOP_DELAY
    import_stop_delay: float = IMPORT_STOP_DELAY
    import_margin: float = IMPORT_MARGIN
    settle: float = SETTLE
    change_interval: float = CHANGE_INTERVAL
    phase_up_delay: float = phase_rules.UP_DELAY
    phase_down_delay: float = phase_rules.DOWN_DELAY
    full_after: float = FULL_AFTER
    slow_to_tracked_soc: float = SLOW_SOC


class Offer(BaseModel):
    """What the policy last had a charger offer: `current` None is paused."""

    model_config = ConfigDict(frozen=True)

    current: float | None = None
    phases: int | None = None
    since: datetime | None = None  # when the current (or the pause) was set
    started: datetime | None = None  # when the charge began, or its phase count changed
    phased_at: datetime | None = None  # when the phase count was last switched


class ChargerMemory(BaseModel):
    model_config = ConfigDict(frozen=True)

    offer: Offer = Offer()
    short_since: datetime | None = None  # surplus below the least current (or above, paused)
    import_since: datetime | None = None  # the home importing from the grid while it charges
    enough_since: datetime | None = None
    phase_timers: phase_rules.PhaseTimers = phase_rules.PhaseTimers()
    idle_since: datetime | None = None  # the car takes (almost) nothing of what it is offered
    full: bool = False
    tracking: bool = False  # slow moved to tracked by itself


class ChargingMemory(BaseModel):
    model_config = ConfigDict(frozen=True)

    chargers: dict[str, ChargerMemory] = {}
    sky: Sky = Sky()


@dataclass(frozen=True)
class ChargingInputs:
    chargers: Mapping[str, ChargerState | None]  # fresh and online, else None
    surplus: Surplus | None  # None: no fresh meter
    sky: Sky
    battery: BatteryState | None


Action = Literal["charge", "pause", "leave"]  # leave: nothing is sent (charger unreachable)


@dataclass(frozen=True)
class Target:
    """What one charger should do now; `phases` None leaves them as they are."""

    action: Action
    strategy: Strategy
    reason: str
    current: float | None = None
    phases: int | None = None


def phases_in_use(state: ChargerState, offer: Offer, c: ChargerSettings) -> int:
    return phase_rules.in_use(state, offer.phases, c.phases)


def _since(flag: bool, since: datetime | None, now: datetime) -> datetime | None:
    if not flag:
        return None
    return since or now


def _held(since: datetime | None, now: datetime, delay: float) -> bool:
    return since is not None and (now - since).total_seconds() >= delay


def strategy_of(
    c: ChargerSettings, m: ChargerMemory, s: ChargingSettings, inputs: ChargingInputs
) -> tuple[Strategy, bool, str]:
    """The strategy in force, whether slow runs as tracked, and a word on why."""
    chosen = c.strategy
    if chosen is not Strategy.SLOW:
        return chosen, False, ""
    soc = inputs.battery.soc if inputs.battery is not None else None
    clear = not inputs.sky.cloudy
    if soc is None:
        return chosen, False, ""
    level = s.slow_to_tracked_soc
    if m.tracking:
        keep = clear and soc >= level - SLOW_BACK
        why = f"slow as tracked: battery {soc:.0f} %, clear" if keep else ""
        return (Strategy.TRACKED, True, why) if keep else (chosen, False, "")
    if clear and soc >= level:
        return Strategy.TRACKED, True, f"slow as tracked: battery {soc:.0f} % >= {level:.0f} %"
    return chosen, False, ""


def _limits(c: ChargerSettings, state: ChargerState) -> Range:
    return within(c.min_current, c.max_current, c.step, c.voltage, state)


@dataclass(frozen=True)
class _Power:
    """W for one charger: `now` the surplus as measured, `aim` what to charge with (less
    while cloudy), `keep` what a charge under way may hold on to (with the house battery's
    help), `imported` what the home takes from the grid now."""

    now: float
    aim: float
    keep: float
    spare: float  # W over (< 0: short) at the aim, by the meter alone
    imported: float

    def less(self, used: float) -> _Power:
        return _Power(self.now - used, self.aim - used, self.keep - used, self.spare,
                      self.imported)  # fmt: skip


def _power(inputs: ChargingInputs, peak: float) -> _Power | None:
    if inputs.surplus is None:
        return None
    measured, cut = inputs.surplus.car, inputs.sky.cut(peak)
    return _Power(measured, measured - cut, inputs.surplus.hold, inputs.surplus.spare - cut,
                  inputs.surplus.imported)  # fmt: skip


def step(
    s: ChargingSettings, inputs: ChargingInputs, memory: ChargingMemory, now: datetime
) -> tuple[ChargingMemory, dict[str, Target]]:
    """Each charger in priority order; the next one gets the surplus the one before leaves."""
    power = _power(inputs, s.pv_peak)
    memories = dict(memory.chargers)
    targets = {}
    for cid, c in s.chargers.items():
        state = inputs.chargers.get(cid)
        m = memories.get(cid, ChargerMemory())
        m, target = _one(s, c, inputs, power, m, now, state)
        memories[cid], targets[cid] = m, target
        if power is not None and target.current is not None:
            phases = phases_in_use(state, m.offer, c) if state is not None else 3
            power = power.less(watts(target.current, phases, c.voltage))
    return ChargingMemory(chargers=memories, sky=inputs.sky), targets


def _one(
    s: ChargingSettings,
    c: ChargerSettings,
    inputs: ChargingInputs,
    power: _Power | None,
    m: ChargerMemory,
    now: datetime,
    state: ChargerState | None,
) -> tuple[ChargerMemory, Target]:
    strategy, tracking, why = strategy_of(c, m, s, inputs)
    m = m.model_copy(update={"tracking": tracking})
    if state is None:
        return m, Target("leave", strategy, "charger unknown, offline or stale: left as it is")
    if state.plugged is False:
        m = ChargerMemory(offer=m.offer)  # a new car starts afresh
        if strategy in (Strategy.OFF, Strategy.TRACKED):
            return _pause(m, now, strategy, "no car plugged in")
    if strategy is Strategy.OFF:
        return _pause(m, now, strategy, "strategy off")
    m = _watch_fullness(s, m, state, now)
    if m.full:
        return _pause(m, now, strategy, "car full: it took almost nothing for a while")
    if c.follows_sun:
        own = (
            "its own fastest mode" if strategy is Strategy.FAST else "it follows the surplus itself"
        )
        return m, Target("charge", strategy, f"{why or strategy.value}: {own}")
    limits = _limits(c, state)
    if strategy is Strategy.FAST:
        return _offer(m, now, strategy, limits.high, _fixed_or(c, 3), "fast: the most current")
    if strategy is Strategy.SLOW:
        return _offer(m, now, strategy, limits.low, _fixed_or(c, 1), "slow: the least current")
    if power is None:
        if strategy is Strategy.MIN_PV:
            return _offer(m, now, strategy, limits.low, None, "meter silent: the least current")
        return _pause(m, now, strategy, "meter silent: no surplus known, paused")
    reason = why or strategy.value
    if m.offer.current is None and strategy is Strategy.TRACKED:
        return _maybe_start(s, c, limits, m, power.aim, now, strategy, reason)
    return _follow(s, c, limits, m, state, power, now, strategy, reason)


def _fixed_or(c: ChargerSettings, auto: int) -> int | None:
    """The phase count to ask for: `auto`'s pick where the charger switches, else none."""
    return auto if c.phases == "auto" else None


def _pause(
    m: ChargerMemory, now: datetime, strategy: Strategy, why: str
) -> tuple[ChargerMemory, Target]:
    offer = m.offer
    if offer.current is not None:
        offer = offer.model_copy(update={"current": None, "since": now})
    return m.model_copy(update={"offer": offer, "short_since": None}), Target(
        "pause", strategy, why
    )


def _offer(
    m: ChargerMemory,
    now: datetime,
    strategy: Strategy,
    amps: float,
    phases: int | None,
    why: str,
) -> tuple[ChargerMemory, Target]:
    o = m.offer
    update: dict[str, object] = {}
    if o.current != amps:
        update |= {"current": amps, "since": now}
        if o.current is None:
            update["started"] = now
    if phases is not None and o.phases != phases:
        update |= {"phases": phases, "phased_at": now, "since": now, "started": now}
    if update:
        m = m.model_copy(update={"offer": o.model_copy(update=update)})
    return m, Target("charge", strategy, f"{why}: {amps:g} A", amps, phases)


def _watch_fullness(
    s: ChargingSettings, m: ChargerMemory, state: ChargerState, now: datetime
) -> ChargerMemory:
    """A car offered current that takes (almost) none of it, for long, is full."""
    o = m.offer
    if o.current is None or o.since is None or m.full:
        return m.model_copy(update={"idle_since": None}) if not m.full else m
    begun = o.started or o.since
    if (now - begun).total_seconds() < s.settle or state.plugged is False:
        return m.model_copy(update={"idle_since": None})
    offered = watts(o.current, o.phases or state.phases or 1, VOLTAGE)
    drawn = state.power if state.power is not None else (offered if state.charging else 0.0)
    idle_since = _since(drawn < FULL_SHARE * offered, m.idle_since, now)
    full = _held(idle_since, now, s.full_after)
    return m.model_copy(update={"idle_since": idle_since, "full": full})


def _start_phases(c: ChargerSettings, limits: Range, aim: float, margin: float) -> int:
    return phase_rules.for_start(c.phases, aim >= limits.least(3) + margin)


def _maybe_start(
    s: ChargingSettings,
    c: ChargerSettings,
    limits: Range,
    m: ChargerMemory,
    aim: float,
    now: datetime,
    strategy: Strategy,
    reason: str,
) -> tuple[ChargerMemory, Target]:
    phases = _start_phases(c, limits, aim, s.start_margin)
    need = limits.least(phases) + s.start_margin
    enough_since = _since(aim >= need, m.enough_since, now)
    m = m.model_copy(update={"enough_since": enough_since})
    if not _held(enough_since, now, s.start_delay):
        wait = "" if enough_since is None else f" for {s.start_delay:g} s"
        return _pause(m, now, strategy, f"{reason}: surplus {aim:.0f} W, needs {need:.0f} W{wait}")
    amps = limits.for_power(aim, phases)
    m = m.model_copy(update={"enough_since": None, "short_since": None})
    asked = phases if c.phases == "auto" else None
    return _offer(m, now, strategy, amps, asked, f"{reason}: started on {phases} phase(s)")


def _follow(
    s: ChargingSettings,
    c: ChargerSettings,
    limits: Range,
    m: ChargerMemory,
    state: ChargerState,
    power: _Power,
    now: datetime,
    strategy: Strategy,
    reason: str,
) -> tuple[ChargerMemory, Target]:
    """A charge under way (or min+pv, which always charges): follow the surplus on the
    phases in use, switch phases where allowed, stop tracking after a long shortfall."""
    o = m.offer
    aim = power.aim
    if o.current is None:  # min+pv from a pause: at once, on the phases the surplus gives
        phases = _start_phases(c, limits, aim, s.start_margin)
        amps = limits.for_power(aim, phases)
        asked = phases if c.phases == "auto" else None
        return _offer(m, now, strategy, amps, asked, f"{reason}: surplus {aim:.0f} W")
    phases = phases_in_use(state, o, c)
    if strategy is Strategy.TRACKED:
        short = power.keep < limits.least(phases) - s.stop_margin
        short_since = _since(short, m.short_since, now)
        import_since = _since(short and power.imported > s.import_margin, m.import_since, now)
        m = m.model_copy(update={"short_since": short_since, "import_since": import_since})
        why = ""
        if _held(import_since, now, s.import_stop_delay):
            why = f"{reason}: importing {power.imported:.0f} W for {s.import_stop_delay:g} s"
        elif _held(short_since, now, s.stop_delay):
            why = f"{reason}: surplus {power.now:.0f} W under {limits.least(phases):.0f} W"
            why += f" for {s.stop_delay:g} s"
        if why and _can_drop_to_one(c, limits, m, aim, now):
            m = m.model_copy(update={"short_since": None, "import_since": None})
            amps = limits.for_power(aim, 1)
            return _offer(m, now, strategy, amps, 1, f"{why}: on 1 phase")
        if why:
            return _pause(m, now, strategy, f"{why}: stopped")
    m, switch = _phase_switch(s, c, limits, m, aim, now)
    if switch is not None:
        amps = limits.for_power(aim, switch)
        why = f"{reason}: surplus {aim:.0f} W, on {switch} phase(s)"
        return _offer(m, now, strategy, amps, switch, why)
    wanted = limits.for_power(aim, phases)
    if wanted > o.current:
        wanted = max(o.current, limits.for_power(aim - UP_MARGIN, phases))
    age = math.inf if o.since is None else (now - o.since).total_seconds()
    up = wanted >= o.current + c.step - 1e-9 and age >= s.change_interval
    # down only on the meter's word, which lags nothing: a charger read seconds behind it
    # would otherwise make the surplus look short just after each step up
    down = wanted <= o.current - c.step + 1e-9 and power.spare < 0
    current = wanted if up or down else o.current
    return _offer(m, now, strategy, current, None, f"{reason}: surplus {aim:.0f} W")


def _can_drop_to_one(
    c: ChargerSettings, limits: Range, m: ChargerMemory, aim: float, now: datetime
) -> bool:
    """Whether a charge on three switchable phases that the surplus can no longer hold may go
    on with one instead of stopping: a stop is a cycle, a switch down keeps the sun's power."""
    o = m.offer
    if c.phases != "auto" or o.phases != 3 or aim < limits.least(1):
        return False
    return phase_rules.may_switch(o.phased_at, now)


def _phase_switch(
    s: ChargingSettings,
    c: ChargerSettings,
    limits: Range,
    m: ChargerMemory,
    aim: float,
    now: datetime,
) -> tuple[ChargerMemory, int | None]:
    """The phase count to switch to now, if any (`phases.py`)."""
    if c.phases != "auto":
        return m, None
    timers = phase_rules.watch(m.phase_timers, aim >= limits.least(3) + s.start_margin, now)
    m = m.model_copy(update={"phase_timers": timers})
    if not phase_rules.may_switch(m.offer.phased_at, now):
        return m, None
    return m, phase_rules.switch_to(m.offer.phases, timers, now, s.phase_up_delay,
                               s.phase_down_delay)  # fmt: skip


def reserved(
    s: ChargingSettings,
    chargers: Mapping[str, ChargerState | None],
    memory: ChargingMemory,
    targets: Mapping[str, Target],
) -> float:
    """W the cars come first for, beyond what they draw: what each charging car is being
    moved to, and the least power of one waiting out its start delay."""
    total = 0.0
    for cid, c in s.chargers.items():
        state, m, target = chargers.get(cid), memory.chargers.get(cid), targets.get(cid)
        if state is None or m is None:
            continue
        if target is not None and target.action == "charge" and target.current is not None:
            current = target.current
        elif m.enough_since is not None:  # waiting out its start delay
            current = _limits(c, state).low
        else:
            continue
        phases = phases_in_use(state, m.offer, c)
        total += max(watts(current, phases, c.voltage) - car_draw(state, c.voltage), 0.0)
    return total
