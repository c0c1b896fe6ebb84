"""EV guard: keep the home battery from emptying itself into the car.

A pure policy: `step(settings, inputs, memory, now) -> (memory, decision)`. No I/O, no clock
of its own. EV charging is detected from the house's own consumption: grid import plus what
the batteries deliver to the home, so a battery covering the car cannot hide it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from wattbus.models import BatteryState, ControllerMode, MeterState

THRESHOLD = 5000.0  # W of house consumption that means a car is charging
CONFIRM = 3.0  # s the consumption must stay above before charging is declared
RELEASE = 120.0  # s it must stay below before charging is over (cars pause briefly)
STALE_AFTER = 30.0  # s without a meter state before the guard stops asserting


@dataclass(frozen=True)
class GuardSettings:
    mode: ControllerMode = ControllerMode.AUTO
    threshold: float = THRESHOLD
    confirm: float = CONFIRM
    release: float = RELEASE
    stale_after: float = STALE_AFTER


class GuardMemory(BaseModel):
    """What the guard remembers between steps; persisted so a restart keeps a session."""

    model_config = ConfigDict(frozen=True)

    charging: bool = False
    above_since: datetime | None = None
    below_since: datetime | None = None
    changed_at: datetime | None = None


@dataclass(frozen=True)
class GuardInputs:
    meter: MeterState | None
    batteries: Mapping[str, BatteryState | None]


@dataclass(frozen=True)
class Decision:
    """`hold`: True = hold every battery; False = make sure none is held, whoever placed the
    hold (the controller owns battery holds in `auto`, `pause` and `resume`); None = mode
    `off`: release only what the guard itself held, then leave the batteries alone."""

    hold: bool | None
    charging: bool
    house_power: float | None
    reason: str


def house_power(inputs: GuardInputs, now: datetime, stale_after: float) -> float | None:
    meter = inputs.meter
    if meter is None or (now - meter.ts).total_seconds() > stale_after:
        return None
    total = meter.power
    for b in inputs.batteries.values():
        if b is None or (now - b.ts).total_seconds() > stale_after:
            continue
        total += (b.output_home_power or 0.0) - (b.grid_input_power or 0.0)
    return total


def detect(
    s: GuardSettings, power: float, memory: GuardMemory, now: datetime
) -> tuple[GuardMemory, str]:
    """Hysteresis: above the threshold for `confirm` s starts a session, below for `release`
    s ends it; a reading on the other side resets the pending edge."""
    if power > s.threshold:
        above = memory.above_since or now
        if not memory.charging and (now - above).total_seconds() >= s.confirm:
            m = GuardMemory(charging=True, above_since=above, changed_at=now)
            return m, f"house {power:.0f} W above {s.threshold:.0f} W for {s.confirm:g} s"
        m = memory.model_copy(update={"above_since": above, "below_since": None})
        if memory.charging:
            return m, f"charging: house {power:.0f} W"
        return m, f"house {power:.0f} W above {s.threshold:.0f} W, confirming"
    below = memory.below_since or now
    if memory.charging and (now - below).total_seconds() >= s.release:
        m = GuardMemory(charging=False, below_since=below, changed_at=now)
        return m, f"house {power:.0f} W below {s.threshold:.0f} W for {s.release:g} s"
    m = memory.model_copy(update={"below_since": below, "above_since": None})
    if memory.charging:
        return m, f"house {power:.0f} W below {s.threshold:.0f} W, releasing"
    return m, f"idle: house {power:.0f} W"


def step(
    s: GuardSettings, inputs: GuardInputs, memory: GuardMemory, now: datetime
) -> tuple[GuardMemory, Decision]:
    power = house_power(inputs, now, s.stale_after)
    if power is None:
        reason = f"meter silent for over {s.stale_after:g} s: not holding"
        new = memory
    else:
        new, reason = detect(s, power, memory, now)
    if s.mode is ControllerMode.OFF:
        return new, Decision(None, new.charging, power, "off: batteries left alone")
    if s.mode is ControllerMode.PAUSE:
        return new, Decision(True, new.charging, power, "paused by hand: holding")
    if s.mode is ControllerMode.RESUME:
        return new, Decision(False, new.charging, power, "resumed by hand: not holding")
    return new, Decision(power is not None and new.charging, new.charging, power, reason)
