"""A charger's currents: the range it takes, in its steps, and the current a power covers on
some phases. Currents are per phase, in A; powers in W."""

from __future__ import annotations

import math
from dataclasses import dataclass

from wattbus.models import ChargerState

EPSILON = 1e-9  # so 6.9 / 2.3 counts as the 3 it is meant to be


def watts(amps: float, phases: int, voltage: float) -> float:
    return amps * phases * voltage


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    step: float
    voltage: float

    def clamp(self, amps: float) -> float:
        return min(max(amps, self.low), self.high)

    def least(self, phases: int) -> float:
        """W the least current draws on `phases`."""
        return watts(self.low, phases, self.voltage)

    def covered(self, power: float, phases: int) -> float:
        """The most current in the steps that `power` covers on `phases`, which may be under
        the least current (the caller decides what that means)."""
        raw = power / (phases * self.voltage)
        return math.floor(raw / self.step + EPSILON) * self.step

    def for_power(self, power: float, phases: int) -> float:
        """The current to offer for `power` on `phases`: what it covers, within the range."""
        return self.clamp(self.covered(power, phases))


def within(low: float, high: float, step: float, voltage: float, state: ChargerState) -> Range:
    """The configured range within the charger's own, where it reports one, in its steps."""
    least = math.ceil(max(low, state.min_current or 0.0) / step - EPSILON) * step
    most = math.floor(min(high, state.max_current or high) / step + EPSILON) * step
    return Range(least, max(least, most), step, voltage)
