"""A dispatch evening's whole household in the test process, on one Mosquitto of the test's own
with the ACL: the Kraken, myenergi and Powerwall bridges against their fakes, the controller,
and a grid meter (a plain client under the `grid-meter` user). Every service and every fake
judges time by ONE clock that the test moves, so a tariff window, a hold's lease and a state's
age all mean the same instant everywhere.

The test moves the clock with `at(when)`, which then reads the Zappi and the Powerwall once
(their bridges' own `poll`, as their tests do; their loops still poll after each command) and
publishes a meter reading, and returns the controller's first state that has seen that
reading. Nothing sleeps: every wait is for a message.

A step jumps minutes at once, where a real evening moves a second at a time and the bridges
re-send every 10 s. So the controller takes states up to an hour old as current
(`stale_after` 3600 s, a setting it allows), and holds are leased for longer than a step:
neither rule is what these tests are about, and each is tested on its own elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.models import BatteryState, ChargerState, MeterState
from wattbus.stopping import run_together, stop
from wattbus.topics import CONTROLLER_ID
from wattbus_controller.service import Controller
from wattbus_controller.settings import ControllerSettings
from wattbus_kraken.service import KrakenBridge
from wattbus_kraken.settings import KrakenSettings
from wattbus_myenergi.commands import ZappiCommand
from wattbus_myenergi.service import make_bridge as make_zappi_bridge
from wattbus_myenergi.service import open_zappi
from wattbus_myenergi.settings import MyenergiSettings
from wattbus_powerwall.commands import PowerwallCommand
from wattbus_powerwall.service import make_bridge as make_powerwall_bridge
from wattbus_powerwall.service import make_gateway
from wattbus_powerwall.settings import PowerwallSettings
from wattbus_simulator.fake_kraken import FakeDispatch, FakeKraken, start_fake_kraken
from wattbus_simulator.fake_myenergi import FakeMyenergi, ZappiState, start_fake_myenergi
from wattbus_simulator.fake_powerwall import FakePowerwall, PowerwallState, start_fake_powerwall

from support.broker import Broker, password
from support.clock import FakeClock
from support.mqtt import Msg, Observer, bus_settings, observer
from support.powerwall import PASSWORD

ACCOUNT = "A-1234ABCD"
API_KEY = "sk_live_fake0000"
BATTERY = "powerwall"
STATE = {s: f"wattbus/{s}/state" for s in ("controller", "kraken", "zappi", "powerwall")}
AVAILABILITY = {s: f"wattbus/{s}/availability" for s in ("kraken", "zappi", "powerwall")}
BATTERY_SET = "wattbus/powerwall/set"
BATTERY_EVENT = "wattbus/powerwall/event"
CONTROLLER_EVENT = "wattbus/controller/event"
HOUSE = 600.0  # W the home draws besides the car
LEASE = 3600.0  # s: longer than any step, so a hold outlives the clock's jumps
# raw gateway values that read back exactly (the app's 33 %): the owner's, to be restored
OWNERS_MODE, OWNERS_RAW_RESERVE = "autonomous", 36.35


def when(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


def _of_reading(house: object, meter: float) -> bool:
    """A house power from this meter reading: the reading and whole watts from a battery."""
    if not isinstance(house, int | float):
        return False
    return (house - meter) == round(house - meter)


@dataclass
class Day:
    broker: Broker
    folder: Path
    clock: FakeClock
    kraken_fake: FakeKraken
    zappi_fake: FakeMyenergi
    powerwall_fake: FakePowerwall
    obs: Observer
    meter: aiomqtt.Client
    controller_settings: dict[str, Any]
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    zappi: Bridge[ChargerState, ZappiCommand] | None = None
    powerwall: Bridge[BatteryState, PowerwallCommand] | None = None
    readings: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- the world ----------------------------------------------------------------------------

    @property
    def car(self) -> ZappiState:
        return self.zappi_fake.state

    @property
    def gateway(self) -> PowerwallState:
        return self.powerwall_fake.state

    def plan(self, *spans: tuple[datetime, datetime], kind: str = "SMART") -> None:
        """What the supplier plans from now on, as its API will list it at the next poll."""
        planned = [FakeDispatch(a, b, kind) for a, b in spans]
        self.kraken_fake.accounts[ACCOUNT].planned = planned

    @property
    def owners(self) -> tuple[str, float]:
        return self.gateway.real_mode, self.gateway.backup_reserve_percent

    @property
    def writes(self) -> int:
        """Every write the gateway has received (`/api/operation` bodies)."""
        return len(self.gateway.posted)

    # --- time ---------------------------------------------------------------------------------

    async def at(self, t: datetime, *, polled: bool = False) -> dict[str, Any]:
        """Move the shared clock to `t`; read the Zappi and the Powerwall, publish a meter
        reading, and return the controller's state once it has evaluated that reading.
        `polled`: first wait until the tariff bridge has read the supplier at `t`."""
        assert t > self.clock.now(), f"{t} is not after {self.clock.now()}"
        mark = self.obs.mark()
        self.clock.advance((t - self.clock.now()).total_seconds())
        if polled:
            await self.obs.wait_for(
                STATE["kraken"], lambda m: m.json["fetched"] and when(m.json["fetched"]) == t,
                after=mark,
            )  # fmt: skip
        return await self.read_all(mark)

    async def read_all(self, mark: int | None = None) -> dict[str, Any]:
        """The Zappi and the Powerwall read and a meter reading published at the clock's
        time, and the controller's state after it (None of it for a service that is down)."""
        mark = self.obs.mark() if mark is None else mark
        now = self.clock.now()
        if self.zappi is not None and "zappi" in self.tasks:
            await self.zappi.poll()
        # each reading its own fraction of a watt, so its house power is known by that: the
        # controller adds what the Powerwall gives the home, in whole watts in the fake
        power = HOUSE + self.car.power + next(self.readings) / 1024
        reading = MeterState(ts=now, power=power)
        await self.meter.publish("wattbus/grid-meter/state", reading.model_dump_json(), qos=1)
        if self.powerwall is not None and "powerwall" in self.tasks:
            await self.powerwall.poll()
        if "controller" not in self.tasks:
            return {}
        seen = await self.obs.wait_for(
            STATE["controller"],
            lambda m: _of_reading(m.json.get("house_power"), power) and when(m.json["ts"]) == now,
            after=mark,
        )
        state: dict[str, Any] = seen.json
        return state

    # --- what the battery shows ----------------------------------------------------------------

    async def battery(self, pred: Callable[[dict[str, Any]], bool], after: int) -> dict[str, Any]:
        msg = await self.obs.wait_for(STATE[BATTERY], lambda m: pred(m.json), after=after)
        state: dict[str, Any] = msg.json
        return state

    async def held(self, after: int) -> dict[str, Any]:
        """The Powerwall's state once it shows the hold: backup at the route's top reserve."""
        return await self.battery(lambda s: s["hold"], after)

    async def released(self, after: int) -> dict[str, Any]:
        return await self.battery(lambda s: not s["hold"], after)

    def sent(self, after: int = 0) -> list[bool]:
        """The holds (True) and releases (False) the controller sent, renewals and repeats
        included, since `after`."""
        return [m.json["hold"] for m in self.obs.messages[after:] if m.topic == BATTERY_SET]

    def changes(self, after: int = 0) -> list[bool]:
        """The commands that changed what the battery is asked (a hold after a release, or a
        release after a hold), since `after`; renewals and repeats left out."""
        out: list[bool] = []
        for hold in self.sent(after):
            if not out or out[-1] != hold:
                out.append(hold)
        return out

    def notices(self, code: str, after: int = 0) -> list[Msg]:
        return [m for m in self.obs.messages[after:]
                if m.topic == CONTROLLER_EVENT and m.json.get("code") == code]  # fmt: skip

    # --- the services ----------------------------------------------------------------------------

    def start(self, name: str) -> None:
        runs: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
            "kraken": self._kraken, "zappi": self._zappi, "powerwall": self._powerwall,
            "controller": self._controller,
        }  # fmt: skip
        assert name not in self.tasks
        self.tasks[name] = asyncio.create_task(runs[name]())

    async def stop(self, name: str) -> None:
        await stop(self.tasks.pop(name))

    async def restart(self, name: str) -> None:
        """Stopped (its bus says `offline`, as a clean stop does) and started again; waits
        until it is back."""
        await self.stop(name)
        mark = self.obs.mark()
        self.start(name)
        await self.ready(name, mark)

    async def ready(self, name: str, mark: int) -> None:
        """Until `name`, started after `mark`, has published its state (the bridges also say
        `online`: the tariff bridge only once it has read its supplier or finds what it
        stored fresh enough)."""
        await self.obs.wait_for(STATE[name], after=mark)
        if name != "controller":
            said = [m.text for m in self.obs.messages[mark:] if m.topic == AVAILABILITY[name]]
            assert said[-1:] == ["online"], f"{name} says {said}"

    def _bus(self, user: str) -> Bus:
        return Bus(bus_settings(self.broker, user, discovery=False), user)

    async def _kraken(self) -> None:
        settings = KrakenSettings.only(
            supplier="octopus", account=ACCOUNT, api_key=API_KEY,
            url=self.kraken_fake.endpoint, state_dir=self.folder / "kraken",
        )  # fmt: skip
        bus = self._bus("kraken")
        bridge = KrakenBridge(bus, settings, self.clock, jitter=lambda: 0.0)
        try:
            await run_together(bus.run(), bridge.run())
        finally:
            await bridge.close()

    async def _zappi(self) -> None:
        state = self.car
        settings = MyenergiSettings.only(
            hub_serial=state.hub_serial, api_key=state.api_key,
            loopback_port=self.zappi_fake.port, poll_interval=3600,
        )  # fmt: skip
        async with open_zappi(settings) as zappi:
            self.zappi = make_zappi_bridge(settings, self._bus("zappi"), zappi,
                                           clock=self.clock.now)  # fmt: skip
            await self.zappi.serve()

    async def _powerwall(self) -> None:
        settings = PowerwallSettings.only(
            host=self.powerwall_fake.host_and_port, password=PASSWORD,
            state_dir=self.folder / "powerwall", poll_interval=3600,
        )  # fmt: skip
        async with make_gateway(settings) as gateway:
            await gateway.connect()
            self.powerwall = make_powerwall_bridge(settings, self._bus("powerwall"), gateway,
                                                   clock=self.clock.now)  # fmt: skip
            await self.powerwall.serve()

    async def _controller(self) -> None:
        values: dict[str, Any] = {
            "batteries": [BATTERY], "charger": "zappi", "tariff": "kraken",
            "stale_after": 3600, "lease": LEASE, "state_dir": self.folder / "controller",
        }  # fmt: skip
        settings = ControllerSettings.only(**values | self.controller_settings)
        bus = self._bus(CONTROLLER_ID)
        controller = Controller(bus, settings, self.clock.now)
        await run_together(bus.run(), controller.run())


@contextlib.asynccontextmanager
async def dispatch_day(
    broker: Broker, folder: Path, start: datetime, **controller: Any
) -> AsyncIterator[Day]:
    """The household at `start`: the car unplugged, the Powerwall at the owner's autonomous
    mode and raw reserve 36.35 %, taking local writes; every service running and read once.
    `controller`: settings for the controller beyond the rig's."""
    clock = FakeClock(start)
    gateway = PowerwallState(writes="accepted", real_mode=OWNERS_MODE,
                             backup_reserve_percent=OWNERS_RAW_RESERVE)  # fmt: skip
    async with contextlib.AsyncExitStack() as stack:
        kraken = await start_fake_kraken(clock=clock.now)
        stack.push_async_callback(kraken.close)
        kraken.add_account(ACCOUNT, api_key=API_KEY)
        zappi = await start_fake_myenergi(ZappiState())
        stack.push_async_callback(zappi.close)
        powerwall = await start_fake_powerwall(gateway)
        stack.push_async_callback(powerwall.close)
        obs = await stack.enter_async_context(observer(broker))
        user = "grid-meter"
        meter = aiomqtt.Client("127.0.0.1", broker.port, username=user, password=password(user))
        await stack.enter_async_context(meter)
        day = Day(broker, folder, clock, kraken, zappi, powerwall, obs, meter, controller)

        async def stop_all() -> None:
            for name in list(day.tasks):
                await day.stop(name)

        stack.push_async_callback(stop_all)
        for name in ("kraken", "zappi", "powerwall", "controller"):
            mark = obs.mark()
            day.start(name)
            await day.ready(name, mark)
        await day.read_all()
        yield day
