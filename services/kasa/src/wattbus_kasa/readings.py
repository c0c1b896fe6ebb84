"""What a plug's readings mean, as a `PlugState`: a pure function of what python-kasa read
and `now`. python-kasa gives energy in kWh; the bus carries Wh, converted here and nowhere
else. A value the plug does not measure (an HS100 has no meter) stays None, never 0."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wattbus.models import PlugState

KILO = 1000.0


@dataclass(frozen=True)
class Reading:
    """One read of the plug, in python-kasa's units."""

    on: bool
    power: float | None = None  # W
    total: float | None = None  # kWh
    today: float | None = None  # kWh
    voltage: float | None = None  # V
    current: float | None = None  # A
    model: str | None = None
    alias: str | None = None


def number(value: object) -> float | None:
    """A measured number as a float; anything else (a boolean too) is not measured."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def watt_hours(kwh: object) -> float | None:
    value = number(kwh)
    return None if value is None else round(value * KILO, 3)


def plug_state(reading: Reading, now: datetime) -> PlugState:
    return PlugState(
        ts=now,
        on=reading.on,
        power=number(reading.power),
        energy=watt_hours(reading.total),
        energy_today=watt_hours(reading.today),
        voltage=number(reading.voltage),
        current=number(reading.current),
        model=reading.model,
        alias=reading.alias or None,
    )
