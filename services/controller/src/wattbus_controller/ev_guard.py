"""EV guard: keep the home battery from emptying itself into the car.

A pure policy: `step(settings, inputs, memory, now) -> (memory, decision)`. No I/O, no clock
of its own; the owner's mode (pause, resume, off) is the arbiter's, not the guard's. A
charger's own `charging` is the signal when one is configured and usable: it is exact, and it
needs no confirm wait. Otherwise (none configured, or it is unknown, offline or stale) the
house's own consumption is: grid import plus what the batteries deliver to the home, so a
battery covering the car cannot hide it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from wattbus.inputs import fresh
from wattbus.models import BatteryState, ChargerState, MeterState

THRESHOLD = 5000.0  # W of house consumption that means a car is charging
CONFIRM = 3.0  # s the consumption must stay above before charging is declared
RELEASE = 120.0  # s it must stay below before charging is over (cars pause briefly)
STALE_AFTER = 30.0  # s without a meter (or charger) state before the guard stops using it

Signal = Literal["charger", "threshold", "none"]  # what the detection went by
# where the hysteresis stands after a reading: the edge it crossed, or the wait it is in
Phase = Literal["started", "charging", "confirming", "ended", "releasing", "idle"]


@dataclass(frozen=True)
class GuardSettings:
    threshold: float = THRESHOLD
    confirm: float = CONFIRM
    release: float = RELEASE
    stale_after: float = STALE_AFTER
    charger: str | None = None  # the id of the charger whose state is the signal, if any


class GuardMemory(BaseModel):
    """What the guard remembers between steps; persisted so a restart keeps a session.
    `above_since` and `below_since`: since when the signal in use has said charging, or not."""

    model_config = ConfigDict(frozen=True)

    charging: bool = False
    above_since: datetime | None = None
    below_since: datetime | None = None
    changed_at: datetime | None = None


@dataclass(frozen=True)
class GuardInputs:
    meter: MeterState | None
    batteries: Mapping[str, BatteryState | None]
    charger: ChargerState | None = None
    # the charger's availability: True `online`, False `offline`, None not heard yet
    charger_online: bool | None = None


@dataclass(frozen=True)
class Decision:
    """`hold`: True = hold every battery; False = make sure none is held, whoever placed the
    hold (the guard owns the battery holds it sees)."""

    hold: bool
    charging: bool
    house_power: float | None
    reason: str
    signal: Signal


def house_power(inputs: GuardInputs, now: datetime, stale_after: float) -> float | None:
    meter = fresh(inputs.meter, now, stale_after)
    if meter is None:
        return None
    total = meter.power
    for b in inputs.batteries.values():
        if fresh(b, now, stale_after) is None:
            continue
        assert b is not None
        total += (b.output_home_power or 0.0) - (b.grid_input_power or 0.0)
    return total


def trusted_charger(
    s: GuardSettings, inputs: GuardInputs, now: datetime
) -> tuple[ChargerState | None, str | None]:
    """The configured charger's state when it tells about now, else why not (None: no charger
    configured). A charger whose bridge says `offline`, or whose state is missing or older than
    `stale_after`, says nothing about now."""
    if s.charger is None:
        return None, None
    state = inputs.charger
    if inputs.charger_online is False:
        return None, f"charger {s.charger} offline"
    if state is None:
        return None, f"charger {s.charger} unknown"
    age = (now - state.ts).total_seconds()
    if age > s.stale_after:
        return None, f"charger {s.charger} silent for over {s.stale_after:g} s"
    if age < -s.stale_after:
        return None, f"charger {s.charger} stamped {-age:.0f} s ahead: clocks disagree"
    return state, None


def hysteresis(
    on: bool, confirm: float, release: float, memory: GuardMemory, now: datetime
) -> tuple[GuardMemory, Phase]:
    """On for `confirm` s starts a session, off for `release` s ends it; a reading on the
    other side resets the pending edge."""
    if on:
        above = memory.above_since or now
        if not memory.charging and (now - above).total_seconds() >= confirm:
            return GuardMemory(charging=True, above_since=above, changed_at=now), "started"
        m = memory.model_copy(update={"above_since": above, "below_since": None})
        return m, "charging" if memory.charging else "confirming"
    below = memory.below_since or now
    if memory.charging and (now - below).total_seconds() >= release:
        return GuardMemory(charging=False, below_since=below, changed_at=now), "ended"
    m = memory.model_copy(update={"below_since": below, "above_since": None})
    return m, "releasing" if memory.charging else "idle"


def by_threshold(
    s: GuardSettings, power: float, memory: GuardMemory, now: datetime
) -> tuple[GuardMemory, str]:
    m, phase = hysteresis(power > s.threshold, s.confirm, s.release, memory, now)
    house, limit = f"house {power:.0f} W", f"{s.threshold:.0f} W"
    reasons: dict[Phase, str] = {
        "started": f"{house} above {limit} for {s.confirm:g} s",
        "charging": f"charging: {house}",
        "confirming": f"{house} above {limit}, confirming",
        "ended": f"{house} below {limit} for {s.release:g} s",
        "releasing": f"{house} below {limit}, releasing",
        "idle": f"idle: {house}",
    }
    return m, reasons[phase]


def by_charger(
    s: GuardSettings, charging: bool, memory: GuardMemory, now: datetime
) -> tuple[GuardMemory, str]:
    """`charging: true` starts a session at once: the charger does not guess, so there is
    nothing to confirm. `false` ends it only after `release` s, as below the threshold: a car
    pauses briefly (balancing, a full pack topping up), and a hold dropped and placed again
    costs the battery two settings changes for nothing."""
    m, phase = hysteresis(charging, 0.0, s.release, memory, now)
    name = f"charger {s.charger}"
    reasons: dict[Phase, str] = {
        "started": f"{name} charging",
        "charging": f"charging: {name} charging",
        "confirming": f"{name} charging",  # never reached with no confirm wait
        "ended": f"{name} not charging for {s.release:g} s",
        "releasing": f"{name} not charging, releasing",
        "idle": f"idle: {name} not charging",
    }
    return m, reasons[phase]


def step(
    s: GuardSettings, inputs: GuardInputs, memory: GuardMemory, now: datetime
) -> tuple[GuardMemory, Decision]:
    power = house_power(inputs, now, s.stale_after)
    charger, unusable = trusted_charger(s, inputs, now)
    signal: Signal
    if charger is not None:
        signal = "charger"
        new, reason = by_charger(s, charger.charging, memory, now)
    elif power is not None:
        signal = "threshold"
        new, reason = by_threshold(s, power, memory, now)
    else:
        signal = "none"
        new, reason = memory, f"meter silent for over {s.stale_after:g} s: not holding"
    if unusable is not None:  # the fallback says what it falls back from
        reason = f"{unusable}; {reason}"
    return new, Decision(signal != "none" and new.charging, new.charging, power, reason, signal)
