"""`wattbus demo`: a simulated household, a local broker and every service, live in the terminal.

The household runs `speed` times faster than real time, so an EV session of several minutes
passes in under a minute; the services run at their real pace (1 s meter data), and the
controller's release period is divided by `speed` so the end of the session shows too.

The car plugs into a SmartEVSE in Solar mode: the bridge feeds it the simulated Shelly's
currents and the battery's, the charger lets the car take the rooftop surplus, and the
controller holds the battery on the charger's own word that the car charges.

Every settings object is built from the demo's own values only (`ServiceSettings.only`): a
`.env` in the current folder or `WATTBUS_*` in the environment names a user's real devices and
broker, and the demo must neither reach those nor behave differently because of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.live import Live
from wattbus.service import quiet_http_loggers
from wattbus.settings import BusSettings
from wattbus.stopping import run_together
from wattbus_controller.service import serve as serve_controller
from wattbus_controller.settings import ControllerSettings
from wattbus_shelly.service import serve as serve_shelly
from wattbus_shelly.settings import ShellySettings
from wattbus_smartevse.service import serve as serve_smartevse
from wattbus_smartevse.settings import SmartEVSESettings
from wattbus_zendure.service import serve as serve_zendure
from wattbus_zendure.settings import ZendureSettings

from wattbus_simulator.broker import local_broker
from wattbus_simulator.demo_dispatch import DispatchView
from wattbus_simulator.demo_dispatch import run_services as run_evening
from wattbus_simulator.demo_smappee import SESSIONS as SMAPPEE_SESSIONS
from wattbus_simulator.demo_smappee import SPEED as SMAPPEE_SPEED
from wattbus_simulator.demo_smappee import SmappeeView, demo_clock
from wattbus_simulator.demo_smappee import run_services as run_smappee
from wattbus_simulator.demo_solar import SolarView
from wattbus_simulator.demo_solar import run_services as run_day
from wattbus_simulator.demo_view import CHARGER, BrokerAccess, BusView, Line, View, watch
from wattbus_simulator.evening import dispatch_evening
from wattbus_simulator.home import CHARGER_PREFIX, SimulatedHome, simulated_home
from wattbus_simulator.solar_home import solar_home

HOST = "127.0.0.1"
RELEASE = 120.0  # the controller's release period at speed 1
LIVE_REFRESH = 4  # redraws per second of the live view


def print_line(line: Line | None) -> None:
    """Line mode: flushed at once, so a pipe or `docker logs` sees each line as it happens."""
    if line is not None:
        print(line.text, flush=True)


async def run_services(
    home: SimulatedHome,
    port: int,
    state: Path,
    speed: float,
    view: View,
    show: Callable[[Line | None], None],
) -> None:
    bus = BusSettings.only(mqtt_host=HOST, mqtt_port=port, health_file=state / "health")
    shelly = ShellySettings.only(host=HOST, port=home.shelly.port)
    zendure = ZendureSettings.only(host=HOST, port=home.zendure.port, state_dir=state)
    # the guard takes the charger's word for when the car charges
    controller = ControllerSettings.only(
        release=max(5.0, RELEASE / speed), state_dir=state, charger=CHARGER
    )
    smartevse = SmartEVSESettings.only(
        id=CHARGER, prefix=CHARGER_PREFIX, battery="zendure", state_dir=state
    )
    await run_together(
        home.run(),
        watch(bus, view, show),
        serve_shelly(shelly, bus),
        serve_zendure(zendure, bus),
        serve_controller(controller, bus),
        serve_smartevse(smartevse, bus),
    )


@contextlib.contextmanager
def output(console: Console, view: BusView) -> Iterator[Callable[[Line | None], None]]:
    """The live view on a terminal. Elsewhere (a pipe, `docker logs`, CI) a live view shows
    nothing until the end: there, how to reach the broker, then one line per thing seen."""
    if console.is_terminal:
        with Live(view.render(), console=console, refresh_per_second=LIVE_REFRESH) as live:
            yield lambda _: live.update(view.render())
        return
    for text in view.access_lines():
        print(text, flush=True)
    yield print_line


@contextlib.asynccontextmanager
async def shown(
    console: Console, view: BusView, duration: float | None
) -> AsyncIterator[tuple[Path, Callable[[Line | None], None]]]:
    """What every scenario runs in: a state folder (logs and state files), the output, and the
    demo's duration, which ends it quietly."""
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        logging.basicConfig(filename=state / "demo.log", level=logging.INFO, force=True)
        quiet_http_loggers()
        with contextlib.suppress(TimeoutError), output(console, view) as show:
            async with asyncio.timeout(duration):
                yield state, show


async def run_demo(
    speed: float,
    duration: float | None,
    embedded_broker: bool = False,
    scenario: str = "home",
    meter: str = "shelly",
) -> None:
    console = Console()
    broker = local_broker(embedded=embedded_broker)
    if meter == "smappee":
        home_at = simulated_home(speed=speed, sessions=SMAPPEE_SESSIONS)
        async with broker as (port, kind), home_at as home:
            clock = demo_clock(speed)
            smappee_view = SmappeeView(home, BrokerAccess(HOST, port, kind), clock)
            async with shown(console, smappee_view, duration) as (state, show):
                await run_smappee(home, clock, port, state, smappee_view, show)
        return
    if scenario == "dispatch":
        async with broker as (port, kind), dispatch_evening(speed) as evening:
            evening_view = DispatchView(evening, BrokerAccess(HOST, port, kind))
            async with shown(console, evening_view, duration) as (state, show):
                await run_evening(evening, port, state, evening_view, show)
        return
    if scenario == "solar":
        async with broker as (port, kind), solar_home(speed) as day:
            day_view = SolarView(day, BrokerAccess(HOST, port, kind))
            async with shown(console, day_view, duration) as (state, show):
                await run_day(day, port, state, day_view, show)
        return
    async with broker as (port, kind), simulated_home(speed=speed, charger_broker=port) as home:
        view = View(home, BrokerAccess(HOST, port, kind))
        async with shown(console, view, duration) as (state, show):
            await run_services(home, port, state, speed, view, show)


# the default of each: an EV session, an evening, a day from 08:30 to sunset in 11 minutes
SPEEDS = {"home": 10.0, "dispatch": 30.0, "solar": 60.0}


def main(
    speed: float | None = None,
    duration: float | None = None,
    embedded_broker: bool = False,
    scenario: str = "home",
    meter: str = "shelly",
) -> None:
    """`meter`: `smappee` for the home scenario seen through 5-minute data (demo_smappee.py)."""
    speed = speed or (SMAPPEE_SPEED if meter == "smappee" else SPEEDS[scenario])
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_demo(speed, duration, embedded_broker, scenario, meter))
