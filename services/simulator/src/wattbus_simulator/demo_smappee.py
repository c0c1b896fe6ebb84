"""`wattbus demo --meter smappee`: the home's EV sessions seen through a Smappee's 5-minute
blocks from a fake Smappee cloud, in place of a Shelly's readings every second.

The fake cloud averages each block from what the household's meter showed, recorded on the
demo's clock (demo_clock.py), and shows it a minute after it ends, as the real cloud does. The
smappee and zendure bridges and the controller run on that clock too: a block's time and span,
the battery's lease and the guard's confirm and release are the demo's seconds, so they mean
at x30 what they mean in a home. How old a state may be is scaled with the speed, as the
zendure bridge is read every 2 real seconds.

The car draws a fixed 11 kW with no charger: a SmartEVSE needs a meter every 10 s, and the
guard here has only the meter to go by (no `WATTBUS_CONTROLLER_CHARGER`), which is what this
variant shows. A session lasts half an hour, so that whole blocks have the car in them.

The guard keeps its defaults, confirm 3 s and release 120 s, of the demo's clock (the home
scenario divides its release by the speed, as its controller keeps real time): a block is
already a 5-minute average, so the first one with the car is believed and the first one
without it gives the battery back, 120 s after it shows. Longer values would add to a delay
of up to 6.5 minutes the data already has (docs/devices/smappee.md).
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from wattbus.bus import Bus
from wattbus.models import utcnow
from wattbus.settings import BusSettings
from wattbus.stopping import run_together
from wattbus_controller.service import Controller
from wattbus_controller.settings import ControllerSettings
from wattbus_smappee.service import make_bridge as meter_bridge
from wattbus_smappee.service import open_client
from wattbus_smappee.settings import SmappeeSettings
from wattbus_zendure.client import SolarFlow
from wattbus_zendure.service import make_bridge as battery_bridge
from wattbus_zendure.settings import ZendureSettings

from wattbus_simulator.demo_clock import DemoClock
from wattbus_simulator.demo_view import BrokerAccess, Line, View, watch
from wattbus_simulator.fake_smappee import BLOCK, FakeSmappee
from wattbus_simulator.home import TICK, SimulatedHome, ev_sessions

HOST = "127.0.0.1"
METER = "smappee"
SPEED = 30.0  # the default: a session from minute 10 to 40 passes in a minute
SESSIONS = ev_sessions(start=600.0, duration=1800.0, every=3600.0)  # simulated s
POLL = 30.0  # the demo's s between polls of the cloud, as the bridge's default
FASTEST = 0.1  # real s between polls at most
LEASE = 90.0  # the controller's lease at x1, in real s
STALE = 30.0  # how old a state may be at x1, in real s
KEPT = timedelta(minutes=30)  # of the meter's history: more than the bridge ever asks for


def demo_clock(speed: float) -> DemoClock:
    """The demo's clock, from the start of the current block: the sessions' minutes are the
    blocks' minutes."""
    now = utcnow()
    return DemoClock(now - timedelta(seconds=now.timestamp() % BLOCK.total_seconds()), speed)


class GridHistory:
    """What the household's meter showed, by the demo's time: the consumption the fake cloud
    averages (the house has no solar of its own, so the Smappee's consumption is the grid's
    import; the battery on L1 is behind its clamps). Before the first reading, the first."""

    def __init__(self) -> None:
        self.times: list[datetime] = []
        self.powers: list[float] = []

    def add(self, at: datetime, power: float) -> None:
        self.times.append(at)
        self.powers.append(power)
        old = bisect.bisect_left(self.times, at - KEPT)
        del self.times[:old], self.powers[:old]

    def __call__(self, at: datetime) -> float:
        if not self.powers:
            return 0.0
        return self.powers[max(0, bisect.bisect_right(self.times, at) - 1)]


async def record(home: SimulatedHome, clock: DemoClock, history: GridHistory) -> None:
    """Until cancelled: the meter's total at each household step, on the demo's clock."""
    while True:
        history.add(clock.now(), sum(p.act_power for p in home.household.meter.phases))
        await asyncio.sleep(TICK)


def controller_settings(state: Path, speed: float) -> ControllerSettings:
    return ControllerSettings.only(
        meter=METER, state_dir=state, lease=min(LEASE * speed, 86_400),
        stale_after=min(STALE * speed, 3600),
    )  # fmt: skip


async def run_services(
    home: SimulatedHome,
    clock: DemoClock,
    port: int,
    state: Path,
    view: View,
    show: Callable[[Line | None], None],
) -> None:
    bus = BusSettings.only(mqtt_host=HOST, mqtt_port=port, health_file=state / "health")
    history = GridHistory()
    history.add(clock.now(), sum(p.act_power for p in home.household.meter.phases))
    cloud = FakeSmappee(consumption=history, clock=clock.now)
    await cloud.start()
    login = {"client_id": cloud.client_id, "client_secret": cloud.client_secret,
             "username": cloud.username, "password": cloud.password}  # fmt: skip
    # polled as often, in the demo's seconds, as a home's bridge polls the real cloud
    poll = {"poll_interval": max(FASTEST, POLL / clock.speed)}
    meter = SmappeeSettings.only(url=cloud.api, **login).model_copy(update=poll)
    zendure = ZendureSettings.only(host=HOST, port=home.zendure.port, state_dir=state)
    control_bus = Bus(bus, "controller")
    control = Controller(control_bus, controller_settings(state, clock.speed), clock.now)
    try:
        async with (
            open_client(meter, clock.now) as client,
            SolarFlow(HOST, port=home.zendure.port) as flow,
        ):
            await run_together(
                home.run(),
                record(home, clock, history),
                watch(bus, view, show),
                meter_bridge(meter, Bus(bus, METER), client, clock=clock.now).serve(),
                battery_bridge(zendure, Bus(bus, zendure.id), flow, clock=clock.now).serve(),
                control_bus.run(),
                control.run(),
            )
    finally:
        await cloud.close()


class SmappeeView(View):
    """The home's view with the meter's newest block in place of its phases, and each line
    stamped with the demo's time, which the blocks carry."""

    meter = METER

    def __init__(self, home: SimulatedHome, access: BrokerAccess, clock: DemoClock) -> None:
        super().__init__(home, access)
        self.clock = clock

    def stamp(self) -> str:
        return f"{self.clock.now():%H:%M:%S}"

    def _grid(self) -> str:
        grid = self.states.get(self.meter, {})
        power = grid.get("power")
        shown = f"{power:8.0f} W" if isinstance(power, int | float) else "       ? W"
        return f"{shown}   5-minute block from {str(grid.get('ts', ''))[11:16] or '?'} UTC   "
