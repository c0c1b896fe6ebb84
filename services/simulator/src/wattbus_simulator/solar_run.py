"""A solar day run through charging rules, fast and without a broker: wattbus's own policy
(the controller's pure core, exactly as the service runs it) or any other rule set, each seeing
what the meter, the charger and the battery showed a step before, as a controller on the bus
does. The figures are the ones owners judge a solar charger by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from wattbus.models import BatteryState, ChargerState, MeterState
from wattbus_controller import charging, clouds, surplus

from wattbus_simulator.solar_day import Reading, SolarDay

DAY = datetime(2026, 6, 21, tzinfo=UTC)  # midnight of the simulated day
CHARGER = "car"


class Rules(Protocol):
    def decide(self, seen: Reading, plugged: bool, car_full: bool) -> tuple[float | None, int]:
        """The current to offer (None: paused) and the phases, from what was seen."""
        ...


@dataclass
class Figures:
    """Per day: energy in kWh, counts as counted."""

    car: float = 0.0  # kWh into the car
    car_solar: float = 0.0  # of which from surplus (not the grid, not the house battery)
    grid_import: float = 0.0  # kWh imported while the car charged
    battery_discharge: float = 0.0  # kWh the house battery gave while the car charged
    changes: int = 0  # changes of the offered current while charging
    cycles: int = 0  # starts after a pause
    exported: float = 0.0  # kWh exported while the car was plugged in and not full


def run(day: SolarDay, rules: Rules, dt: float = 2.0, start: float = 6 * 3600.0,
        end: float = 20 * 3600.0) -> Figures:  # fmt: skip
    f = Figures()
    seen = day.step(start, dt, None, 3)
    offered: float | None = None
    t = start
    while t < end:
        t += dt
        plugged = day.plugged(t)
        now, phases = rules.decide(seen, plugged, day.car.full)
        if now is not None and offered is None and plugged:
            f.cycles += 1
        elif now is not None and offered is not None and now != offered:
            f.changes += 1
        offered = now
        seen = day.step(t, dt, offered, phases)
        _count(f, seen, dt, plugged and not day.car.full)
    return f


def _count(f: Figures, r: Reading, dt: float, waiting: bool) -> None:
    h = dt / 3600.0 / 1000.0  # W over dt, in kWh
    if r.car > 0:
        imported = max(r.grid, 0.0)
        discharged = max(-r.battery, 0.0)
        f.car += r.car * h
        f.car_solar += max(r.car - imported - discharged, 0.0) * h
        f.grid_import += imported * h
        f.battery_discharge += discharged * h
    if waiting and r.grid < 0:
        f.exported += -r.grid * h


@dataclass
class WattbusRules:
    """The controller's charging policy, fed as the service feeds it."""

    settings: charging.ChargingSettings
    priority: surplus.BatteryPriority = field(default_factory=surplus.BatteryPriority)
    memory: charging.ChargingMemory = field(default_factory=charging.ChargingMemory)
    last: charging.Target | None = None
    charger_every: float = 0.0  # s between the charger's readings (a polled one lags)
    measures_power: bool = True  # False: the charger reports no power, only its state
    yielding: float = 0.0  # W of plugs that give way to the car, as the controller counts them
    _charger: Reading | None = None  # the car as the charger last reported it

    def decide(self, seen: Reading, plugged: bool, car_full: bool) -> tuple[float | None, int]:
        now = DAY + timedelta(seconds=seen.t)
        meter = MeterState(ts=now, power=seen.grid)
        battery = BatteryState(ts=now, soc=seen.soc, power=seen.battery)
        offer = self.memory.chargers.get(CHARGER, charging.ChargerMemory()).offer
        phases = offer.phases or _fixed(self.settings)
        if self._charger is None or seen.t - self._charger.t >= self.charger_every:
            self._charger = seen
        car = self._charger
        charger = ChargerState(
            ts=DAY + timedelta(seconds=car.t), charging=car.car > 0, plugged=plugged,
            power=car.car if self.measures_power else None,
            current=offer.current, phases=car.car_phases or phases,
        )  # fmt: skip
        share = surplus.surplus(self.priority, meter, [charger], battery, self.yielding)
        sky = clouds.observe(self.memory.sky, seen.pv, self.settings.pv_peak, now)
        inputs = charging.ChargingInputs({CHARGER: charger}, share, sky, battery)
        self.memory, targets = charging.step(self.settings, inputs, self.memory, now)
        self.last = targets[CHARGER]
        new = self.memory.chargers[CHARGER].offer
        return new.current, new.phases or phases


def _fixed(s: charging.ChargingSettings) -> int:
    choice = s.chargers[CHARGER].phases
    return 3 if choice == "auto" else choice
