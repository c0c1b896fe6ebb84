"""A simulated home served over the network: the household model stepping in (sped-up)
simulated time behind a fake Shelly Pro 3EM and a fake Zendure SolarFlow."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from wattbus_simulator.fake_shelly import FakeShelly, ShellyPro3EMState, start_fake_shelly
from wattbus_simulator.fake_zendure import FakeZendure, ZendureState, start_fake_zendure
from wattbus_simulator.household import EvSession, Household

TICK = 0.2  # real s between household steps
EV_START = 60.0  # simulated s until the first EV session
EV_DURATION = 400.0  # simulated s of charging
EV_EVERY = 1200.0  # simulated s between session starts
SESSIONS = 1000  # enough for weeks of simulated time
PV = 300.0  # W of PV into the battery


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
    sim_time: float = 0.0

    async def run(self) -> None:
        """Step the household until cancelled; `speed` simulated seconds per real second."""
        last = time.monotonic()
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            dt = (now - last) * self.speed
            last = now
            self.sim_time += dt
            self.household.step(self.sim_time, dt)


@contextlib.asynccontextmanager
async def simulated_home(
    *,
    speed: float = 1.0,
    host: str = "127.0.0.1",
    shelly_port: int = 0,
    zendure_port: int = 0,
    shelly_password: str | None = None,
    sessions: list[EvSession] | None = None,
) -> AsyncIterator[SimulatedHome]:
    household = Household(
        ShellyPro3EMState(), ZendureState(), sessions=sessions or ev_sessions(), pv=PV
    )
    household.step(0.0, 0.0)
    shelly = await start_fake_shelly(
        household.meter, password=shelly_password, host=host, port=shelly_port
    )
    try:
        zendure = await start_fake_zendure(household.battery, host=host, port=zendure_port)
        try:
            yield SimulatedHome(household, shelly, zendure, speed)
        finally:
            await zendure.close()
    finally:
        await shelly.close()
