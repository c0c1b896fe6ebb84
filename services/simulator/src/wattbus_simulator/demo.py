"""`wattbus demo`: a simulated household, a local broker and every service, live in the terminal.

The household runs `speed` times faster than real time, so an EV session of several minutes
passes in under a minute; the services run at their real pace (1 s meter data), and the
controller's release period is divided by `speed` so the end of the session shows too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
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
from wattbus_simulator.home import SimulatedHome, simulated_home

RELEASE = 120.0  # the controller's release period at speed 1
EVENTS_SHOWN = 8


class View:
    """What the bus says, as a person would want to watch it."""

    def __init__(self, home: SimulatedHome, broker: str) -> None:
        self.home = home
        self.broker = broker
        self.states: dict[str, dict[str, Any]] = {}
        self.availability: dict[str, str] = {}
        self.events: deque[str] = deque(maxlen=EVENTS_SHOWN)

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
        ev = self.home.household.ev_power(self.home.sim_time)
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()
        h = self.home
        clock = f"{h.sim_time / 60:6.1f} min  (x{h.speed:g}, broker: {self.broker})"
        t.add_row("simulated time", clock)
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


async def watch(bus: BusSettings, view: View, live: Live) -> None:
    async with aiomqtt.Client(bus.mqtt_host, bus.mqtt_port, identifier="wattbus-demo-view") as c:
        await c.subscribe(f"{bus.topic_prefix}/#")
        async for m in c.messages:
            if isinstance(m.payload, bytes):
                view.take(str(m.topic), m.payload)
                live.update(view.render())


async def run_demo(speed: float, duration: float | None, embedded_broker: bool = False) -> None:
    broker = local_broker(embedded=embedded_broker)
    async with broker as (port, kind), simulated_home(speed=speed) as home:
        view = View(home, kind)
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp)
            logging.basicConfig(filename=state / "demo.log", level=logging.INFO, force=True)
            bus = BusSettings(mqtt_host="127.0.0.1", mqtt_port=port, health_file=state / "health")
            shelly = ShellySettings(host="127.0.0.1", port=home.shelly.port)
            zendure = ZendureSettings(host="127.0.0.1", port=home.zendure.port, state_dir=state)
            controller = ControllerSettings(release=max(5.0, RELEASE / speed), state_dir=state)
            with (
                contextlib.suppress(TimeoutError),
                Live(view.render(), refresh_per_second=4) as live,
            ):
                async with asyncio.timeout(duration), asyncio.TaskGroup() as tg:
                    tg.create_task(home.run())
                    tg.create_task(watch(bus, view, live))
                    tg.create_task(serve_shelly(shelly, bus))
                    tg.create_task(serve_zendure(zendure, bus))
                    tg.create_task(serve_controller(controller, bus))


def main(speed: float = 10.0, duration: float | None = None, embedded_broker: bool = False) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_demo(speed, duration, embedded_broker))
