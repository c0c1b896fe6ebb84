"""A plug on surplus in the solar day: a 2 kW heating rod on a smart plug, switched by the
controller's plug policy (`wattbus_controller.plugs`, its default settings, the car first)
beside the car that wattbus's charging policy tracks, as the controller runs the two: the car's
reserve (`charging.reserved`: what it is being given, or the least power of a start it waits
out) is kept from the plug.

The rod's draw joins the house's load, so the meter and the house battery see it. Its figure
is the hours it ran on surplus: on, while the home took nothing from the grid or the house
battery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from wattbus.models import BatteryState, ChargerState, MeterState, PlugState
from wattbus_controller import charging, plugs
from wattbus_simulator.solar_day import HouseLoad, Reading, SolarDay
from wattbus_simulator.solar_run import CHARGER, DAY, WattbusRules

ROD = 2000.0  # W: the heating rod's draw while its plug is on
PLUG = "rod"


@dataclass
class PluggedLoad(HouseLoad):
    """The house's own load (the same seeded appliances) and the rod while its plug is on."""

    on: bool = False

    def power(self, t: float) -> float:
        return super().power(t) + (ROD if self.on else 0.0)


def with_plug(day: SolarDay, seed: int) -> PluggedLoad:
    """`day` with the rod in its house; its load's appliances stay those of `seed`."""
    load = PluggedLoad(seed, day.load.base, day.load.events)
    day.load = load
    return load


def default_plugs() -> plugs.PlugsSettings:
    return plugs.PlugsSettings({PLUG: plugs.PlugSettings()}, ZoneInfo("UTC"))


@dataclass
class WattbusWithPlug:
    """wattbus's charging policy for the car and its plug policy for the rod, each step."""

    car: WattbusRules
    load: PluggedLoad
    settings: plugs.PlugsSettings = field(default_factory=default_plugs)
    memory: dict[str, plugs.PlugMemory] = field(default_factory=dict)
    hours_on: float = 0.0
    hours_on_surplus: float = 0.0
    _last: float | None = None

    def decide(self, seen: Reading, plugged: bool, car_full: bool) -> tuple[float | None, int]:
        self._count(seen)
        offer = self.car.memory.chargers.get(CHARGER, charging.ChargerMemory()).offer
        self.car.yielding = ROD if self.load.on and self.settings.car_first else 0.0
        current, phases = self.car.decide(seen, plugged, car_full)
        now = DAY + timedelta(seconds=seen.t)
        charger = ChargerState(
            ts=now, charging=seen.car > 0, plugged=plugged, power=seen.car,
            current=offer.current, phases=seen.car_phases or phases,
        )  # fmt: skip
        targets = {} if self.car.last is None else {CHARGER: self.car.last}
        reserve = charging.reserved(self.car.settings, {CHARGER: charger}, self.car.memory, targets)
        rod = PlugState(ts=now, on=self.load.on, power=ROD if self.load.on else 0.0)
        inputs = plugs.PlugsInputs(
            {PLUG: rod},
            MeterState(ts=now, power=seen.grid),
            BatteryState(ts=now, soc=seen.soc, power=seen.battery),
            reserve,
        )
        self.memory, decisions = plugs.step(self.settings, inputs, self.memory, now)
        on = decisions[PLUG].on
        if on is not None:
            self.load.on = on
        return current, phases

    def _count(self, seen: Reading) -> None:
        """The step that gave `seen` ran with the plug as it was last switched."""
        if self._last is not None and self.load.on:
            hours = (seen.t - self._last) / 3600.0
            self.hours_on += hours
            if seen.grid <= 0 and seen.battery >= 0:
                self.hours_on_surplus += hours
        self._last = seen.t
