"""`Set/MainsMeter`: a wattbus `MeterState` in the SmartEVSE's own words.

The firmware takes the mains as `L1:L2:L3` in deci-amps, import > 0. It drops the *whole*
message when any phase is outside -2000 < dA < 2000, and the charger would then stop for want
of data, so a phase out of range is clamped to the nearest value it accepts (it still reads
as a phase at its limit) and the clamp is reported. The dingo firmware also takes
`L1:L2:L3:W:Wh`; upstream reads the first three fields of either form and ignores the rest.

A meter that gives no current per phase may still feed: its total power is split evenly over
the house's phases, and the result says so. An even split hides an unbalanced house (one
phase at 25 A reads as three at 8.3 A), so the charger's per-phase limit then works on an
average; a meter that measures each phase is the safe choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from wattbus.models import MeterState

PHASE_LIMIT = 1999  # dA: the largest magnitude the firmware accepts (-2000 < dA < 2000)
UNKNOWN = -1  # the firmware's word for a W or Wh it is not told
NOMINAL_VOLTAGE = 230.0  # V, when the meter reports none
MIN_VOLTAGE = 50.0  # V: below this a phase is out, not a voltage to divide by
DECI = 10  # dA per A

Phases = Literal[1, 3]


class UnreadableReading(ValueError):
    """A reading that cannot become a message: its total power is not a number."""


@dataclass(frozen=True)
class Clamp:
    """A phase brought into the firmware's range."""

    phase: int  # 1 to 3
    measured: int  # dA
    sent: int  # dA


@dataclass(frozen=True)
class MainsMeter:
    """One `Set/MainsMeter` message, and how it was made."""

    currents: tuple[int, int, int]  # dA per phase, import > 0, within the firmware's range
    power: int  # W, total, import > 0
    energy: int  # Wh imported, or UNKNOWN
    split: bool  # the currents are the total power split evenly over the house's phases
    clamped: tuple[Clamp, ...] = ()

    def payload(self, five_fields: bool) -> str:
        fields = [*self.currents, self.power, self.energy] if five_fields else self.currents
        return ":".join(str(x) for x in fields)


def mains_meter(state: MeterState, *, phases: Phases, voltage: float) -> MainsMeter:
    """The message for `state`: per-phase currents when the meter has one for each of the
    house's `phases`, else its total power split over them at the meter's voltage (or the
    configured `voltage`). A phase the house does not have is fed as 0."""
    measured = _phase_currents(state, phases)
    split = measured is None
    if measured is None:
        measured = _split(state, phases, voltage)
    amps = (*measured, *[0.0] * (3 - len(measured)))
    wanted = [round(a * DECI) for a in amps]
    sent = [max(-PHASE_LIMIT, min(PHASE_LIMIT, d)) for d in wanted]
    pairs = enumerate(zip(wanted, sent, strict=True), start=1)
    clamped = tuple(Clamp(n, w, s) for n, (w, s) in pairs if w != s)
    return MainsMeter(
        currents=(sent[0], sent[1], sent[2]),
        # an export of exactly 1 W is -1, which the firmware reads as unknown: harmless
        power=_whole(state.power),
        energy=_whole(state.energy_import),
        split=split,
        clamped=clamped,
    )


def meter_voltage(state: MeterState | None, configured: float) -> float:
    """The mean of the phase voltages the meter reports, else the configured one. Voltage
    only scales a power into a current and moves a few per cent, so any reading will do."""
    if state is None:
        return configured
    volts = [v for v in _per_phase(state, "voltage") if v is not None and v >= MIN_VOLTAGE]
    return sum(volts) / len(volts) if volts else configured


def _phase_currents(state: MeterState, phases: Phases) -> list[float] | None:
    """Each phase's current with the sign of that phase's power (import > 0). wattbus meter
    bridges already sign their currents; a current that came unsigned gets its sign here."""
    known = [c for c in _per_phase(state, "current")[:phases] if c is not None]
    if len(known) < phases:
        return None
    powers = _per_phase(state, "power")
    return [math.copysign(c, p) if p else c for c, p in zip(known, powers, strict=False)]


def _split(state: MeterState, phases: Phases, voltage: float) -> list[float]:
    if not math.isfinite(state.power):
        raise UnreadableReading(f"total power is {state.power}")
    per_phase = state.power / phases
    volts = _per_phase(state, "voltage")[:phases]
    return [per_phase / (v if v is not None and v >= MIN_VOLTAGE else voltage) for v in volts]


def _per_phase(state: MeterState, quantity: str) -> list[float | None]:
    """`quantity` on L1 to L3; a value that is not a finite number counts as not reported."""
    values = (getattr(state, f"{quantity}_l{n}") for n in (1, 2, 3))
    return [v if v is not None and math.isfinite(v) else None for v in values]


def _whole(value: float | None) -> int:
    return round(value) if value is not None and math.isfinite(value) else UNKNOWN
