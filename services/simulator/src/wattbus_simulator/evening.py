"""A dispatch evening: a home on a smart EV tariff with a Zappi and a Powerwall, on a demo
clock. The supplier's plan (the fake Kraken), the car and the house follow a script in London
time, which the view shows as it happens:

- 18:00-19:00 a smart window; the supplier starts the car, which is full at about 18:40;
- a second window, planned at 18:20 for 19:30-20:30 and cut to 19:30-20:00 at 18:50; the car,
  plugged in again, charges on past its end (until about 20:35);
- 21:00-21:30 a boost the owner asked for (not cheap);
- 22:00-23:00 planned at 21:30 and withdrawn at 21:45.

The Powerwall covers the house and the car unless it is held (backup mode), and the house draws
a steady base load, so what the battery gives the car shows in its power."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from wattbus_simulator.demo_clock import DemoClock
from wattbus_simulator.fake_kraken import FakeAccount, FakeDispatch, FakeKraken, start_fake_kraken
from wattbus_simulator.fake_myenergi import (
    ECO_PLUS,
    FAST,
    FakeMyenergi,
    ZappiState,
    start_fake_myenergi,
)
from wattbus_simulator.fake_powerwall import FakePowerwall, PowerwallState, start_fake_powerwall

LONDON = ZoneInfo("Europe/London")
START = time(17, 56)  # the evening starts a few minutes before the first window
HOUSE = 900.0  # W the house draws without the car
TICK = 0.2  # real s between steps
ACCOUNT = "A-DEMO0001"
API_KEY = "demo-octopus-key"
GATEWAY_PASSWORD = "DEMO1"
NOTES_KEPT = 4


@dataclass
class Evening:
    """The fakes of the evening and the script that drives them."""

    clock: DemoClock
    kraken: FakeKraken
    account: FakeAccount
    zappi_state: ZappiState
    zappi: FakeMyenergi
    powerwall_state: PowerwallState
    powerwall: FakePowerwall
    day: date
    notes: deque[str] = field(default_factory=lambda: deque(maxlen=NOTES_KEPT))
    _script: list[tuple[datetime, str, Callable[[], None]]] = field(default_factory=list)

    def at(self, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(self.day, time(hour, minute), LONDON)

    def window(self, start: datetime, end: datetime, kind: str = "SMART") -> FakeDispatch:
        return FakeDispatch(start, end, kind, kwh=None)

    def write_script(self) -> None:
        first = self.window(self.at(18), self.at(19))
        second = self.window(self.at(19, 30), self.at(20, 30))
        boost = self.window(self.at(21), self.at(21, 30), "BOOST")
        late = self.window(self.at(22), self.at(23))
        steps: list[tuple[int, int, str, Callable[[], None]]] = [
            (17, 56, "supplier plans a smart window 18:00-19:00", lambda: self._plan(first)),
            (17, 57, "car plugged in (Zappi on Eco+, no sun: waiting)", lambda: self._plug(5)),
            (18, 0, "supplier starts the car (Zappi to Fast)", lambda: self._mode(FAST)),
            (18, 20, "supplier plans a smart window 19:30-20:30", lambda: self._plan(second)),
            (18, 50, "supplier cuts it to 19:30-20:00", lambda: self._end(second, 20)),
            (19, 10, "car plugged in again, wants 10 kWh", lambda: self._plug(10)),
            (19, 30, "supplier starts the car", lambda: self._mode(FAST)),
            (20, 40, "Zappi back to Eco+", lambda: self._mode(ECO_PLUS)),
            (20, 55, "owner asks for a boost 21:00-21:30", lambda: self._plan(boost)),
            (20, 58, "car plugged in again, wants 3 kWh", lambda: self._plug(3)),
            (21, 0, "the boost starts the car", lambda: self._mode(FAST)),
            (21, 30, "supplier plans a smart window 22:00-23:00", lambda: self._plan(late)),
            (21, 45, "supplier withdraws it", lambda: self._withdraw(late)),
            (23, 0, "the evening is over (Ctrl-C to stop)", lambda: None),
        ]
        self._script = [(self.at(h, m), what, do) for h, m, what, do in steps]

    def _plan(self, dispatch: FakeDispatch) -> None:
        self.account.planned.append(dispatch)  # the fake's list: it replaces it as windows end

    def _withdraw(self, dispatch: FakeDispatch) -> None:
        self.account.planned.remove(dispatch)

    def _end(self, dispatch: FakeDispatch, hour: int) -> None:
        dispatch.end = self.at(hour)

    def _plug(self, kwh: float) -> None:
        """A new session: the car wants `kwh` and waits in Eco+ for the supplier (or sun)."""
        z = self.zappi_state
        z.unplug()
        z.mode, z.capacity = ECO_PLUS, kwh
        z.plug()

    def _mode(self, mode: int) -> None:
        self.zappi_state.mode = mode

    def due(self, now: datetime) -> None:
        """The script's steps that have fallen due."""
        while self._script and self._script[0][0] <= now:
            at, what, do = self._script.pop(0)
            do()
            self.notes.appendleft(f"{at.astimezone(LONDON):%H:%M} {what}")

    async def run(self) -> None:
        """Until cancelled: the script's steps as they fall due, the car and the battery."""
        last = self.clock.now()
        while True:
            await asyncio.sleep(TICK)
            now = self.clock.now()
            dt = (now - last).total_seconds()
            last = now
            self.due(now)
            self.zappi_state.advance(dt)
            self.powerwall_state.load = HOUSE + self.zappi_state.power
            self.powerwall_state.advance(dt)


@contextlib.asynccontextmanager
async def dispatch_evening(speed: float, day: date | None = None) -> AsyncIterator[Evening]:
    """The fakes on loopback, on a demo clock that starts at 17:56 London time (today's date
    unless given, so the evening has today's GMT or BST)."""
    day = day or datetime.now(LONDON).date()
    clock = DemoClock(datetime.combine(day, START, LONDON), speed)
    zappi_state = ZappiState()
    # the owner's own settings, which every hold must give back exactly: 20 % in the app
    powerwall_state = PowerwallState(
        load=HOUSE, writes="accepted", password=GATEWAY_PASSWORD, soe=80.0
    )
    async with contextlib.AsyncExitStack() as stack:
        kraken = await start_fake_kraken(clock=clock.now)
        stack.push_async_callback(kraken.close)
        account = kraken.add_account(ACCOUNT, api_key=API_KEY)
        zappi = await start_fake_myenergi(zappi_state)
        stack.push_async_callback(zappi.close)
        powerwall = await start_fake_powerwall(powerwall_state)
        stack.push_async_callback(powerwall.close)
        evening = Evening(
            clock, kraken, account, zappi_state, zappi, powerwall_state, powerwall, day
        )
        evening.write_script()
        evening.due(clock.now())  # the plan the supplier has already made when the demo starts
        yield evening
