"""`Set/HomeBatteryCurrent`: the home battery's current, so that the SmartEVSE's Solar mode
counts only real surplus.

The firmware takes deci-amps, > 0 while the battery charges, and in Solar mode subtracts a
third of it from each mains phase (the sum of the three is what the car may use). Without it,
a battery that soaks up the surplus, or covers the house, hides from the charger what the sun
really gives. The battery's power (W, > 0 charging) becomes a current at the meter's voltage
(or the configured one). Three policies, as the SmartEVSE docs describe them; each example
has the mains at -1 A in all (1 A exported), at 230 V:

- `as_is`: the battery as it is. Charging at 2300 W (10 A) sends 100 dA, and the charger
  sees -1 - 10 = -11 A: it may take the 10 A the battery would charge with. Discharging at
  2300 W sends -100 dA: the charger sees +9 A and backs off, so it never charges from it.
- `discharge_only`: the battery only while it discharges, else 0, so the car never takes
  its charge and never empties it. Charging at 10 A sends 0 (the charger sees -1 A: only the
  export); discharging at 10 A sends -100 dA, as `as_is`.
- `reserve` (N A): the battery gets its first N A before the car gets any. With 4 A reserved,
  charging at 10 A sends 60 dA (the charger sees -7 A: the 6 A above the reserve); charging
  at 2 A sends -20 dA (it sees +1 A and backs off until the battery reaches 4 A);
  discharging at 10 A sends -140 dA. A full battery (`soc` at its `soc_set`, else 100 %)
  cannot take the reserve, so it is left out: the battery is sent as it is.

Sent on every new battery state, and again every `REPEAT_EVERY` s while the latest is younger
than `max_age` (a battery bridge publishes a steady battery only at its heartbeat), at
least `MIN_GAP` (0.9 s) apart. A stale battery is not sent at all: the firmware drops the
last value 60 s after it came.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from wattbus.models import BatteryState

from wattbus_smartevse.feed import MIN_GAP, Wait
from wattbus_smartevse.mains import DECI

MAX_AGE = 30.0  # s: the oldest battery state sent, well inside the firmware's 60 s expiry
# s between repeats: under the firmware docs' 11 s even when one message is lost (its code
# keeps a value 60 s; its own feed script sends every 8 s)
REPEAT_EVERY = timedelta(seconds=5)
FULL = 100.0  # %, the ceiling of a battery that reports no `soc_set`


class Passthrough(StrEnum):
    AS_IS = "as_is"
    DISCHARGE_ONLY = "discharge_only"
    RESERVE = "reserve"


@dataclass(frozen=True)
class PassthroughOptions:
    policy: Passthrough = Passthrough.AS_IS
    reserve: float = 0.0  # A, with `reserve`
    max_age: float = MAX_AGE  # s


@dataclass(frozen=True)
class PassthroughMemory:
    sent_at: datetime | None = None  # when the last message went
    reading: datetime | None = None  # the `ts` of the battery state it carried


@dataclass(frozen=True)
class Send:
    """Send `payload` on `<prefix>/Set/HomeBatteryCurrent`."""

    payload: str
    current: int  # dA
    repeat: bool  # the same battery state as the last message


@dataclass(frozen=True)
class Stop:
    reason: str


def battery_current(battery: BatteryState, voltage: float, options: PassthroughOptions) -> int:
    """The value to send, in dA, > 0 charging."""
    amps = battery.power / voltage
    if options.policy is Passthrough.DISCHARGE_ONLY:
        amps = min(amps, 0.0)
    elif options.policy is Passthrough.RESERVE and _can_charge(battery):
        amps -= options.reserve
    return round(amps * DECI)


def decide(
    battery: BatteryState | None,
    voltage: float,
    memory: PassthroughMemory,
    now: datetime,
    options: PassthroughOptions,
) -> tuple[PassthroughMemory, Send | Wait | Stop]:
    """What to send now; `battery` is the latest state (`None` once the battery is offline)."""
    if battery is None:
        return memory, Stop("no battery state: none yet, or the battery is offline")
    age = (now - battery.ts).total_seconds()
    if age >= options.max_age:
        return memory, Stop(f"battery state {age:.1f} s old (limit {options.max_age:g} s)")
    if age <= -options.max_age:
        return memory, Stop(f"battery state stamped {-age:.1f} s ahead: clocks disagree")
    if not math.isfinite(battery.power):
        return memory, Stop(f"battery power is {battery.power}")
    repeat = memory.reading is not None and battery.ts <= memory.reading
    if memory.sent_at is not None:
        due = memory.sent_at + (REPEAT_EVERY if repeat else MIN_GAP)
        if now < due:
            return memory, Wait(due)
    current = battery_current(battery, voltage, options)
    return PassthroughMemory(sent_at=now, reading=battery.ts), Send(str(current), current, repeat)


def _can_charge(battery: BatteryState) -> bool:
    ceiling = battery.soc_set if battery.soc_set is not None else FULL
    return battery.soc < ceiling
