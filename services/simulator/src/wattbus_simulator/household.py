"""A simulated household behind the fake devices.

The house draws a base load that varies through the day, an EV draws 11 kW on three phases
during its sessions, and a Zendure SolarFlow on L1 covers the house's load up to its output
limit unless its SoC is at or below minSoc, and charges from its own PV surplus. The house
reads the battery's settings from the fake Zendure's properties (device units) and writes
the resulting powers into both fakes, so what the bridges read is what a real home shows.

With a charger (the fake SmartEVSE's firmware core), a session is the time the car is
plugged in, and the car draws what the charger lets it, not a fixed 11 kW. Rooftop PV
(`roof_pv`, on the house's side of the meter, spread over three phases) gives the charger's
Solar mode a surplus to follow; the battery then covers only what the sun does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from wattbus_simulator.fake_shelly import ShellyPro3EMState
from wattbus_simulator.fake_smartevse import SmartEvse
from wattbus_simulator.fake_zendure import ZendureState

BASE_LOAD = 450.0  # W, the house's quiet consumption
BASE_SWING = 350.0  # W, how far it varies over a simulated hour
PHASE_SHARE = (0.5, 0.3, 0.2)  # how the base load falls on L1, L2, L3
CAPACITY_WH = 5760.0  # two AB3000 packs
BATTERY_PHASE = 0  # the SolarFlow's AC outlet is on L1
ROOF_SWING = 0.4  # how far rooftop PV falls below its peak as clouds pass
ROOF_PERIOD = 1800.0  # s of simulated time for one pass of clouds


@dataclass(frozen=True)
class EvSession:
    start: float  # s of simulated time
    duration: float  # s
    power: float = 11_000.0  # W, spread over three phases

    def power_at(self, t: float) -> float:
        return self.power if self.start <= t < self.start + self.duration else 0.0


@dataclass
class Household:
    meter: ShellyPro3EMState
    battery: ZendureState
    sessions: list[EvSession] = field(default_factory=list)
    pv: float = 0.0  # W into the battery's DC side
    soc: float = 60.0  # %, kept precise here; the device reports whole percent
    roof_pv: float = 0.0  # W at its peak, on the house's side of the meter
    charger: SmartEvse | None = None  # the car draws what it allows

    def base_load(self, t: float) -> float:
        return BASE_LOAD + BASE_SWING * (0.5 + 0.5 * math.sin(t / 3600.0 * 2 * math.pi))

    def solar(self, t: float) -> float:
        """W from the roof: its peak, less what passing clouds take."""
        clouds = ROOF_SWING * (0.5 + 0.5 * math.sin(t / ROOF_PERIOD * 2 * math.pi))
        return self.roof_pv * (1.0 - clouds)

    def car_plugged(self, t: float) -> bool:
        return any(s.power_at(t) for s in self.sessions)

    def ev_power(self, t: float) -> float:
        if self.charger is not None:
            return float(self.charger.power())
        return sum(s.power_at(t) for s in self.sessions)

    def step(self, t: float, dt: float) -> None:
        """Advance the house by `dt` simulated seconds ending at `t`."""
        base = self.base_load(t)
        ev = self.ev_power(t)
        sun = self.solar(t) / 3
        loads = [base * share + ev / 3 - sun for share in PHASE_SHARE]
        ac = self._battery(sum(loads), dt)  # > 0: the battery feeds the house
        for i, phase in enumerate(self.meter.phases):
            phase.act_power = round(loads[i] - (ac if i == BATTERY_PHASE else 0.0), 1)
        self.meter.add_energy(dt)

    def _battery(self, house: float, dt: float) -> float:
        """Zero feed-in: deliver what the house needs within the device's own limits.
        Returns the net AC power into the house."""
        p = self.battery.properties
        min_soc = p["minSoc"] / 10
        soc_set = p["socSet"] / 10
        output = grid_input = 0.0
        if p["acMode"] == 2:
            can_discharge = self.soc > min_soc
            available = self.pv + (p["inverseMaxPower"] if can_discharge else 0.0)
            output = max(0.0, min(house, p["outputLimit"], available))
        else:
            grid_input = float(p["inputLimit"]) if self.soc < soc_set else 0.0
        battery_power = self.pv + grid_input - output  # > 0 charging
        if battery_power > 0 and self.soc >= soc_set:
            battery_power = 0.0  # full: PV is curtailed
        self.soc = min(100.0, max(0.0, self.soc + battery_power * dt / 3600 / CAPACITY_WH * 100))
        p.update(
            electricLevel=round(self.soc),
            packInputPower=round(max(0.0, -battery_power)),
            outputPackPower=round(max(0.0, battery_power)),
            outputHomePower=round(output),
            gridInputPower=round(grid_input),
            solarInputPower=round(self.pv),
            packState=1 if battery_power > 0 else 2 if battery_power < 0 else 0,
        )
        for pack in self.battery.packs:
            pack["socLevel"] = round(self.soc)
            pack["power"] = round(abs(battery_power) / max(1, len(self.battery.packs)))
        return output - grid_input
