"""A solar day in plain numbers: the array's output under a sky (clear, broken cloud,
overcast), the house's load, a house battery that keeps the grid at zero where it can, and a
car that takes the current it is offered, on the phases it can, after a short ramp, until it
has what it wanted. Seeded, stepped by the caller, no clock and no I/O: the charging tests,
the control-quality bench and the demo's sunny-then-cloudy day all run the same physics.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

VOLTAGE = 230.0
SUNRISE = 6 * 3600.0  # s of the day
SUNSET = 20 * 3600.0
EDGE = 15.0  # s a cloud's edge takes to cross the array


class Sky(StrEnum):
    CLEAR = "clear"
    BROKEN = "broken"  # sun and shadow in turns, minutes each
    OVERCAST = "overcast"


@dataclass
class Clouds:
    """The share of clear-sky output that gets through, as a seeded process in time."""

    sky: Sky
    seed: int
    _rng: random.Random = field(init=False)
    _until: float = field(init=False, default=-1.0)  # when the spell of sun or shade ends
    _shade: bool = field(init=False, default=False)
    _edge: float = field(init=False, default=0.0)  # when the spell began
    _from: float = field(init=False, default=1.0)
    _to: float = field(init=False, default=1.0)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def factor(self, t: float) -> float:
        if self.sky is Sky.CLEAR:
            return 1.0
        if self.sky is Sky.OVERCAST:
            return 0.3 + 0.08 * math.sin(t / 2400.0) + 0.04 * math.sin(t / 310.0)
        if t >= self._until:  # broken: the next spell of sun or shade
            self._from, self._edge = self._at(t), t
            self._shade = not self._shade
            spell = (20.0, 240.0) if self._shade else (40.0, 420.0)
            self._until = t + self._rng.uniform(*spell)
            self._to = self._rng.uniform(0.2, 0.45) if self._shade else 1.0
        return self._at(t)

    def _at(self, t: float) -> float:
        ramp = min(1.0, (t - self._edge) / EDGE)
        return self._from + (self._to - self._from) * ramp


@dataclass
class TurningSky:
    """A day that turns: clear until `turns` (s of the day), broken cloud after, seeded. The
    demo's sunny-then-cloudy day, so one run shows both a clear sky and passing clouds."""

    turns: float
    seed: int
    _broken: Clouds = field(init=False)

    def __post_init__(self) -> None:
        self._broken = Clouds(Sky.BROKEN, self.seed)

    def factor(self, t: float) -> float:
        return 1.0 if t < self.turns else self._broken.factor(t)


class Cover(Protocol):
    def factor(self, t: float) -> float:
        """The share of clear-sky output that gets through at `t` s of the day."""
        ...


class Sun(Protocol):
    def power(self, t: float) -> float:
        """W produced at `t` s of the day."""
        ...


@dataclass
class Array:
    peak: float  # W
    clouds: Cover

    def power(self, t: float) -> float:
        if not SUNRISE < t < SUNSET:
            return 0.0
        arc = math.sin(math.pi * (t - SUNRISE) / (SUNSET - SUNRISE))
        return self.peak * math.pow(arc, 1.3) * self.clouds.factor(t)


@dataclass
class HouseLoad:
    """A quiet base with appliances that come and go (kettle, oven, washer), seeded; `events`
    0 for the base alone."""

    seed: int
    base: float = 350.0
    events: int = 14
    _events: list[tuple[float, float, float]] = field(init=False)  # start, end, W

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        self._events = []
        for _ in range(self.events):
            start = rng.uniform(SUNRISE, SUNSET)
            watts, minutes = rng.choice(
                [(2000.0, 3.0), (1800.0, 40.0), (2400.0, 25.0), (800.0, 60.0)]
            )
            self._events.append((start, start + minutes * 60.0, watts))

    def power(self, t: float) -> float:
        return self.base + sum(w for s, e, w in self._events if s <= t < e)


@dataclass
class Car:
    """Takes what it is offered on the phases it has, reaching a new current after a ramp
    of a few seconds as a real on-board charger does, and stops when it has `wanted` Wh. A
    new phase count interrupts the charge: it ramps again from nothing."""

    wanted: float  # Wh
    phases: int = 3  # the phases its charger can draw on
    ramp: float = 5.0  # s to reach a new current
    energy: float = 0.0
    amps: float = 0.0  # per phase, now
    on: int = 0  # the phases it was last offered

    @property
    def full(self) -> bool:
        return self.energy >= self.wanted

    def step(self, offered: float | None, phases: int, dt: float) -> float:
        """W drawn over the next `dt` s, given the current offered on `phases`."""
        target = 0.0 if offered is None or self.full else offered
        if phases != self.on:
            self.amps, self.on = 0.0, phases
        self.amps += (target - self.amps) * min(1.0, dt / self.ramp)
        if target == 0.0 and self.amps < 0.5:
            self.amps = 0.0
        power = self.amps * VOLTAGE * min(phases, self.phases)
        self.energy += power * dt / 3600.0
        return power


@dataclass
class HouseBattery:
    """Self-consumption: absorbs export and covers import within its limits and its SoC."""

    capacity: float = 10_000.0  # Wh
    soc: float = 50.0  # %
    max_charge: float = 2500.0  # W
    max_discharge: float = 2500.0  # W
    reserve: float = 10.0  # % it keeps

    def step(self, balance: float, dt: float) -> float:
        """W into the battery (> 0 charging) for a house `balance` (> 0: the house needs
        power, < 0: it has some to spare)."""
        if balance < 0 and self.soc < 100.0:
            power = min(-balance, self.max_charge)
        elif balance > 0 and self.soc > self.reserve:
            power = -min(balance, self.max_discharge)
        else:
            power = 0.0
        self.soc = min(100.0, max(0.0, self.soc + power * dt / 3600.0 / self.capacity * 100.0))
        return power


@dataclass
class Reading:
    """One instant of the day, in wattbus's units and signs."""

    t: float
    pv: float
    house: float  # switched loads included
    car: float
    battery: float  # > 0 charging
    grid: float  # > 0 import
    soc: float
    car_phases: int | None  # the phases the car draws on, None while it draws nothing


@dataclass
class SolarDay:
    array: Sun
    load: HouseLoad
    battery: HouseBattery
    car: Car
    arrives: float = 10 * 3600.0  # s of the day the car is plugged in

    def plugged(self, t: float) -> bool:
        return t >= self.arrives

    def step(
        self, t: float, dt: float, offered: float | None, phases: int, loads: float = 0.0
    ) -> Reading:
        """`loads`: W of switched loads (a plug's heating rod) on top of the house's own."""
        pv = self.array.power(t)
        house = self.load.power(t) + loads
        car = self.car.step(offered if self.plugged(t) else None, phases, dt)
        battery = self.battery.step(house + car - pv, dt)
        grid = house + car + battery - pv
        drawing = min(phases, self.car.phases) if car > 0 else None
        return Reading(t, pv, house, car, battery, grid, self.battery.soc, drawing)


def reference_day(sky: Sky, seed: int = 1, peak: float = 8000.0) -> SolarDay:
    """The bench's days: one array, house, battery and car, under each sky."""
    return SolarDay(
        array=Array(peak, Clouds(sky, seed)),
        load=HouseLoad(seed),
        battery=HouseBattery(),
        car=Car(wanted=20_000.0),
    )
