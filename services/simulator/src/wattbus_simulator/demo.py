"""`wattbus demo`: a simulated household, a local broker and every service, live in the terminal.

The household runs `speed` times faster than real time, so an EV session of several minutes
passes in under a minute; the services run at their real pace (1 s meter data), and the
controller's release period is divided by `speed` so the end of the session shows too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from wattbus.settings import BusSettings
from wattbus_controller.service import serve as serve_controller
from wattbus_controller.settings import ControllerSettings
from wattbus_shelly.service import serve as serve_shelly
from wattbus_shelly.settings import ShellySettings
from wattbus_zendure.service import serve as serve_zendure
from wattbus_zendure.settings import ZendureSettings

from wattbus_simulator.broker import local_broker
from wattbus_simulator.fake_shelly import ShellyPro3EMState, start_fake_shelly
from wattbus_simulator.fake_zendure import ZendureState, start_fake_zendure
from wattbus_simulator.household import EvSession, Household

TICK = 0.2  # real s between household steps
EV_START = 60.0  # simulated s until the first EV session
EV_DURATION = 400.0  # simulated s of charging
EV_EVERY = 1200.0  # simulated s between session starts
RELEASE = 120.0  # the controller's release period at speed 1
EVENTS_SHOWN = 8


def sessions(count: int = 50) -> list[EvSession]:
    return [EvSession(EV_START + i * EV_EVERY, EV_DURATION) for i in range(count)]


class View:
    """What the bus says, as a person would want to watch it."""

    def __init__(self, household: Household, speed: float, broker: str) -> None:
        self.household = household
        self.speed = speed
        self.broker = broker
        self.states: dict[str, dict[str, Any]] = {}
        self.availability: dict[str, str] = {}
        self.events: deque[str] = deque(maxlen=EVENTS_SHOWN)
        self.sim_time = 0.0

    def take(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        if len(parts) < 3:
            return
        device, kind = parts[1], parts[2]
        with contextlib.suppress(ValueError):
            if kind == "state":
                self.states[device] = json.loads(payload)
            elif kind == "availability":
                self.availability[device] = payload.decode()
            elif kind == "event":
                e = json.loads(payload)
                stamp = datetime.now().strftime("%H:%M:%S")
                detail = e.get("reason") or e.get("command") or ""
                self.events.appendleft(f"{stamp} {device}: {e.get('kind')} {detail}")

    def render(self) -> Group:
        grid = self.states.get("grid-meter", {})
        bat = self.states.get("zendure", {})
        ctl = self.states.get("controller", {})
        ev = self.household.ev_power(self.sim_time)
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()
        t.add_row(
            "simulated time", f"{self.sim_time / 60:6.1f} min  (x{self.speed:g}, {self.broker})"
        )
        t.add_row("EV (simulated)", f"{'charging ' + format(ev, '.0f') + ' W' if ev else 'idle'}")
        t.add_row(
            "grid",
            f"{grid.get('power', 0):8.0f} W   L1 {grid.get('power_l1', 0):6.0f}  "
            f"L2 {grid.get('power_l2', 0):6.0f}  L3 {grid.get('power_l3', 0):6.0f}   "
            f"[{self.availability.get('grid-meter', '?')}]",
        )
        hold = (
            f"HOLD via {bat.get('hold_route')} until {str(bat.get('hold_expires', ''))[11:19]}"
            if bat.get("hold")
            else "normal"
        )
        t.add_row(
            "battery",
            f"{bat.get('soc', 0):5.0f} %  {bat.get('power', 0):6.0f} W  to home "
            f"{bat.get('output_home_power', 0):5.0f} W  min SoC {bat.get('min_soc', '?')} %  "
            f"limit {bat.get('output_limit', '?')} W  {hold}  "
            f"[{self.availability.get('zendure', '?')}]",
        )
        t.add_row(
            "controller",
            f"mode {ctl.get('mode', '?')}  EV charging: {ctl.get('ev_charging', '?')}  "
            f"house {ctl.get('house_power') or 0:.0f} W",
        )
        t.add_row("decision", str(ctl.get("reason", "waiting for the first meter reading")))
        events = "\n".join(self.events) or "none yet"
        return Group(
            Panel(t, title="wattbus demo  (Ctrl-C to stop)"),
            Panel(events, title="events on the bus"),
        )


async def simulate(household: Household, view: View, speed: float) -> None:
    last = time.monotonic()
    while True:
        await asyncio.sleep(TICK)
        now = time.monotonic()
        dt = (now - last) * speed
        last = now
        view.sim_time += dt
        household.step(view.sim_time, dt)


async def watch(bus: BusSettings, view: View, live: Live) -> None:
    async with aiomqtt.Client(bus.mqtt_host, bus.mqtt_port, identifier="wattbus-demo-view") as c:
        await c.subscribe(f"{bus.topic_prefix}/#")
        async for m in c.messages:
            if isinstance(m.payload, bytes):
                view.take(str(m.topic), m.payload)
                live.update(view.render())


async def run_demo(speed: float, duration: float | None) -> None:
    async with local_broker() as (port, kind):
        meter = ShellyPro3EMState()
        battery = ZendureState()
        household = Household(meter, battery, sessions=sessions(), pv=300.0)
        household.step(0.0, 0.0)
        shelly = await start_fake_shelly(meter)
        zendure = await start_fake_zendure(battery)
        view = View(household, speed, kind)
        with tempfile.TemporaryDirectory() as tmp:
            bus = BusSettings(mqtt_host="127.0.0.1", mqtt_port=port, health_file=Path(tmp) / "h")
            try:
                with Live(view.render(), refresh_per_second=4, screen=False) as live:
                    async with asyncio.timeout(duration), asyncio.TaskGroup() as tg:
                        tg.create_task(simulate(household, view, speed))
                        tg.create_task(watch(bus, view, live))
                        tg.create_task(
                            serve_shelly(
                                ShellySettings(host="127.0.0.1", port=shelly.port, poll_interval=1),
                                bus,
                            )
                        )
                        tg.create_task(
                            serve_zendure(
                                ZendureSettings(
                                    host="127.0.0.1", port=zendure.port, state_dir=Path(tmp)
                                ),
                                bus,
                            )
                        )
                        tg.create_task(
                            serve_controller(
                                ControllerSettings(
                                    release=max(5.0, RELEASE / speed), state_dir=Path(tmp)
                                ),
                                bus,
                            )
                        )
            except TimeoutError:
                pass
            finally:
                await shelly.close()
                await zendure.close()


def main(speed: float = 10.0, duration: float | None = None) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_demo(speed, duration))
