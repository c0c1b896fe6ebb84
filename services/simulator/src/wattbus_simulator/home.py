"""A simulated home served over the network: the household model stepping in (sped-up)
simulated time behind a fake Shelly Pro 3EM and a fake Zendure SolarFlow, and, given a broker,
a fake SmartEVSE in Solar mode that the car plugs into (the charger keeps real time: its 1 s
task and the feed it gets run at the services' pace)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from wattbus.stopping import run_together

from wattbus_simulator.fake_shelly import FakeShelly, ShellyPro3EMState, start_fake_shelly
from wattbus_simulator.fake_smartevse import FakeSmartEvse, SmartEvse
from wattbus_simulator.fake_zendure import FakeZendure, ZendureState, start_fake_zendure
from wattbus_simulator.household import EvSession, Household

TICK = 0.2  # real s between household steps
EV_START = 60.0  # simulated s until the first EV session
EV_DURATION = 400.0  # simulated s of charging
EV_EVERY = 1200.0  # simulated s between session starts
SESSIONS = 1000  # enough for weeks of simulated time
PV = 300.0  # W of PV into the battery
ROOF_PV = 9000.0  # W at the peak, with a charger: enough surplus for Solar mode on 3 phases
CHARGER_PREFIX = "SmartEVSE/12345"  # the firmware's default, with a made-up serial


def ev_sessions(
    start: float = EV_START, duration: float = EV_DURATION, every: float = EV_EVERY
) -> list[EvSession]:
    return [EvSession(start + i * every, duration) for i in range(SESSIONS)]


@dataclass
class SimulatedHome:
    household: Household
    shelly: FakeShelly
    zendure: FakeZendure
    speed: float
    charger: FakeSmartEvse | None = None
    sim_time: float = 0.0

    async def run(self) -> None:
        """Until cancelled: the household at `speed` simulated seconds per real second, and
        the charger's 1 s task."""
        charger = [self.charger.run()] if self.charger is not None else []
        await run_together(self._step(), *charger)

    async def _step(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            dt = (now - last) * self.speed
            last = now
            self.sim_time += dt
            self.household.step(self.sim_time, dt)
            plugged = self.household.car_plugged(self.sim_time)
            if self.charger is not None and plugged != self.charger.evse.plugged:
                await self.charger.plug(plugged)


@contextlib.asynccontextmanager
async def simulated_home(
    *,
    speed: float = 1.0,
    host: str = "127.0.0.1",
    shelly_port: int = 0,
    zendure_port: int = 0,
    shelly_password: str | None = None,
    sessions: list[EvSession] | None = None,
    charger_broker: int | None = None,
) -> AsyncIterator[SimulatedHome]:
    """`charger_broker`: the port of a loopback broker for a fake SmartEVSE, with rooftop PV
    for its Solar mode; none: a fixed 11 kW car and no charger."""
    charger = None  # not connected yet: the household needs its firmware core first
    if charger_broker is not None:
        charger = FakeSmartEvse(charger_broker, prefix=CHARGER_PREFIX, evse=SmartEvse(mode="Solar"))
    household = Household(
        ShellyPro3EMState(), ZendureState(), sessions=sessions or ev_sessions(), pv=PV,
        roof_pv=ROOF_PV if charger else 0.0, charger=charger.evse if charger else None,
    )  # fmt: skip
    household.step(0.0, 0.0)
    async with contextlib.AsyncExitStack() as stack:
        shelly = await start_fake_shelly(
            household.meter, password=shelly_password, host=host, port=shelly_port
        )
        stack.push_async_callback(shelly.close)
        zendure = await start_fake_zendure(household.battery, host=host, port=zendure_port)
        stack.push_async_callback(zendure.close)
        if charger is not None:
            await charger.start()
            stack.push_async_callback(charger.close)
        yield SimulatedHome(household, shelly, zendure, speed, charger)
