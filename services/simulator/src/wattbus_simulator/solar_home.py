"""A sunny-then-cloudy day at a home with a SolarEdge inverter, its StorEdge battery, an
NRGKICK and a heating rod on a Kasa plug, on a demo clock (demo_clock.py).

The physics are the solar day's (solar_day.py): an array under a sky that is clear in the
morning and broken after midday, a house load, a self-consumption battery, and a car that
plugs in mid-morning and takes the current the charger offers, on its phases, until it has
what it wanted. The fakes show it on their own protocols, each in its own signs and units:

- the fake SolarEdge: its meter is the grid (export > 0, as SolarEdge writes it), the StorEdge
  battery, the inverter's AC and DC power and lifetime energy. The battery is DC-coupled: the
  inverter's DC intake is the PV less what the battery takes, and what it gives goes out
  through the inverter too;
- the fake NRGKICK: the car draws what the charger offers while it is allowed, nothing while
  paused, and nothing once full (the charger then shows it connected, not charging);
- the fake Kasa plug: a 2 kW heating rod that draws while the relay is on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from wattbus_simulator.demo_clock import DemoClock
from wattbus_simulator.fake_kasa import FakeKasa, KasaPlugState, start_fake_kasa
from wattbus_simulator.fake_nrgkick import FakeNrgkick, NrgkickState, start_fake_nrgkick
from wattbus_simulator.fake_solaredge import FakeSolarEdge, Readings
from wattbus_simulator.solar_day import (
    Array,
    Car,
    HouseBattery,
    HouseLoad,
    Reading,
    SolarDay,
    TurningSky,
)

VIENNA = ZoneInfo("Europe/Vienna")
PEAK = 10_000.0  # W the array gives at most
ROD = 2000.0  # W the heating rod draws
TICK = 0.05  # real s between steps: the car follows a new current within seconds of the day
PHASE_SHARE = (0.5, 0.3, 0.2)  # how the house's load falls on L1, L2, L3
ROD_PHASE = 1  # the rod's socket is on L2
# the StorEdge's status as the fake writes it: 3 charge, 4 discharge (DEVICES.md), 6 idle
# (two of the three register maps agree on 6; the bridge does not read it)
CHARGE, DISCHARGE, IDLE = 3, 4, 6


@dataclass(frozen=True)
class Script:
    """When things happen on the day, in local time."""

    start: time = time(8, 30)  # the sun is up, the battery nearly full
    arrives: time = time(10, 0)  # the car is plugged in
    turns: time = time(12, 0)  # the sky breaks up
    car_wants: float = 20_000.0  # Wh
    battery_soc: float = 85.0  # % at the start
    seed: int = 7


def of_day(at: time) -> float:
    """s of the day at `at`."""
    return at.hour * 3600.0 + at.minute * 60.0 + at.second


@dataclass
class SolarHousehold:
    """The day behind the fakes' states: stepped by the caller, no clock and no I/O. It reads
    what the charger offers and whether the plug is on, and writes what the devices measure."""

    day: SolarDay
    inverter: Readings
    charger: NrgkickState
    plug: KasaPlugState
    last: Reading | None = None

    def step(self, t: float, dt: float) -> Reading:
        """Advance by `dt` s ending at `t` s of the day."""
        c = self.charger
        plugged = self.day.plugged(t)
        if plugged and not c.plugged:
            c.session_energy = 0.0  # a new session
        c.plugged = plugged
        offered = c.current_set if c.allowed else None
        rod = self.plug.power
        r = self.day.step(t, dt, offered, c.phase_count, loads=rod)
        c.car_current = self.day.car.amps
        c.session_energy += r.car * dt / 3600.0
        c.total_energy += r.car * dt / 3600.0
        self.plug.total += rod * dt / 3600.0
        self.plug.today += rod * dt / 3600.0
        self._solaredge(r, rod, dt)
        self.last = r
        return r

    def _solaredge(self, r: Reading, rod: float, dt: float) -> None:
        """The meter's phases, the battery and the inverter, in wattbus's signs (the fake
        writes them in SolarEdge's). The inverter's output is spread over its three phases."""
        i = self.inverter
        i.dc_power = r.pv - r.battery  # the battery takes from (or adds to) the DC side
        i.ac_power = i.dc_power  # a lossless inverter: what goes in comes out
        car = [self.charger.drawn * self.charger.voltage if n < self._car_phases() else 0.0
               for n in range(3)]  # fmt: skip
        house = r.house - rod
        i.grid_power = [
            house * share + car[n] + (rod if n == ROD_PHASE else 0.0) - i.ac_power / 3
            for n, share in enumerate(PHASE_SHARE)
        ]
        grid = sum(i.grid_power)
        i.energy_import += max(grid, 0.0) * dt / 3600.0
        i.energy_export += max(-grid, 0.0) * dt / 3600.0
        i.battery_power, i.soc = r.battery, r.soc
        i.battery_status = CHARGE if r.battery > 0 else DISCHARGE if r.battery < 0 else IDLE
        i.advance(dt)

    def _car_phases(self) -> int:
        c = self.charger
        return min(c.car_phases, c.phase_count) if c.charging else 0


def solar_household(script: Script) -> SolarHousehold:
    day = SolarDay(
        array=Array(PEAK, TurningSky(of_day(script.turns), script.seed)),
        load=HouseLoad(script.seed),
        battery=HouseBattery(soc=script.battery_soc),
        car=Car(wanted=script.car_wants),
        arrives=of_day(script.arrives),
    )
    # an NRGKICK whose app allows phase switching, so the controller may choose 1 or 3
    charger = NrgkickState(phase_switching=True, current_set=6.0)
    plug = KasaPlugState(alias="Heating rod", load=ROD, relay=False, today=0.0, on_time=0)
    return SolarHousehold(day, Readings(), charger, plug)


@dataclass
class SolarHome:
    """The household behind its fakes, on the demo's clock."""

    clock: DemoClock
    script: Script
    household: SolarHousehold
    solaredge: FakeSolarEdge
    nrgkick: FakeNrgkick
    kasa: FakeKasa

    def time_of_day(self, now: datetime | None = None) -> float:
        local = (now or self.clock.now()).astimezone(VIENNA)
        return of_day(local.time()) + local.microsecond / 1e6

    async def run(self) -> None:
        """Until cancelled: the day at the clock's speed."""
        last = self.time_of_day()
        while True:
            await asyncio.sleep(TICK)
            t = self.time_of_day()
            self.household.step(t, max(t - last, 0.0))
            last = t


@contextlib.asynccontextmanager
async def solar_home(
    speed: float, script: Script | None = None, day: date | None = None
) -> AsyncIterator[SolarHome]:
    """The fakes on loopback, on a demo clock that starts at the script's start (today's date
    unless given)."""
    script = script or Script()
    day = day or datetime.now(VIENNA).date()
    clock = DemoClock(datetime.combine(day, script.start, VIENNA), speed)
    household = solar_household(script)
    household.step(of_day(script.start), 0.0)
    async with contextlib.AsyncExitStack() as stack:
        solaredge = FakeSolarEdge(household.inverter)
        await solaredge.start()
        stack.push_async_callback(solaredge.close)
        nrgkick = await start_fake_nrgkick(household.charger)
        stack.push_async_callback(nrgkick.close)
        kasa = await start_fake_kasa(
            household.plug, clock=lambda: clock.now().astimezone(VIENNA).replace(tzinfo=None)
        )
        stack.push_async_callback(kasa.close)
        yield SolarHome(clock, script, household, solaredge, nrgkick, kasa)
