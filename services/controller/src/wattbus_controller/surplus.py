"""What the solar panels leave for the car, from what is on the bus.

The grid meter says what the home exports now (grid power < 0), with the car and the house
battery drawing what they draw. Added back, the car's own draw and the battery's charging give
the power that would be exported if neither took anything: that is what the car may share
with the battery. Who gets it first is the owner's home-battery priority:

- below `priority_soc` the battery fills first: the car gets only what the battery cannot
  absorb (`battery_max_charge`), so surplus beyond the battery's charge power goes to the car,
  not to the grid;
- at or above it the car comes first, and the battery may also give the car up to
  `battery_assist` to ride a short dip without stopping (never to start a charge).

Pure: readings in, watts out. A reading the policy cannot trust (missing or stale) gives no
surplus at all, never a zero that would look like a cloud.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from wattbus.models import BatteryState, ChargerState, MeterState

VOLTAGE = 230.0  # V per phase, for currents from watts where a charger reports no power


@dataclass(frozen=True)
class BatteryPriority:
    priority_soc: float = 0.0  # % the battery must reach before the car comes first; 0: car first
    battery_max_charge: float = 0.0  # W the battery takes at most; beyond it goes to the car
    battery_assist: float = 0.0  # W the battery may give the car to ride a dip


@dataclass(frozen=True)
class Surplus:
    """`car`: W the car may have now; `hold`: W it may keep while charging (with the
    battery's help); `spare`: W left over (< 0: short) with the cars drawing what they do,
    from the meter and the battery alone, so a charger's older reading cannot skew it;
    `imported`: W the home takes from the grid now; `why`: where the figures come from, for
    the decision's reason."""

    car: float
    hold: float
    spare: float
    why: str
    imported: float


def car_draw(charger: ChargerState, voltage: float = VOLTAGE) -> float:
    """W the car draws now: the charger's power, else (none reported, or a 0 W that its own
    `charging` contradicts) the current it offers on its phases."""
    if charger.power is not None and (charger.power > 0 or not charger.charging):
        return charger.power
    if charger.charging and charger.current is not None:
        return charger.current * voltage * (charger.phases or 1)
    return 0.0


def surplus(
    priority: BatteryPriority,
    meter: MeterState,
    cars: Iterable[ChargerState],
    battery: BatteryState | None,
    yielding: float = 0.0,
) -> Surplus:
    """The car's share of the export, given what every tracked car draws now. `yielding`: W
    of loads that give way to the cars (plugs on surplus, the car first), counted back as
    surplus: the car may start on it, and the plugs then go off for it."""
    drawn = sum(car_draw(c) for c in cars)
    free = -meter.power + drawn + yielding
    if battery is None:
        why = f"export {-meter.power:.0f} W + car {drawn:.0f} W" + _yielding(yielding)
        return Surplus(free, free, free - drawn, why, max(meter.power, 0.0))
    charging = battery.power  # > 0 charging: it would be exported if the battery were full
    total = free + charging
    parts = f"export {-meter.power:.0f} W + car {drawn:.0f} W + battery {charging:.0f} W"
    parts += _yielding(yielding)
    if battery.soc < priority.priority_soc:
        car = total - min(max(total, 0.0), priority.battery_max_charge)
        why = f"{parts}; battery {battery.soc:.0f} % < {priority.priority_soc:.0f} % first"
        return Surplus(car, car, car - drawn, why, max(meter.power, 0.0))
    return Surplus(total, total + priority.battery_assist, total - drawn, parts,
                   max(meter.power, 0.0))  # fmt: skip


def _yielding(watts: float) -> str:
    return f" + plugs {watts:.0f} W" if watts else ""
