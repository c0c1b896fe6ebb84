"""`wattbus demo --scenario solar`: a sunny-then-cloudy day with a SolarEdge inverter and its
StorEdge battery, an NRGKICK and a heating rod on a Kasa plug, live.

The solaredge bridge (meter, battery and inverter, each its own device on the bus), the
nrgkick and kasa bridges and the controller (solar tracking and plugs on surplus) run against
the day's fakes on the demo's broker, every one on the day's clock (see demo_clock.py). So the
controller's delays, its cloud window and its minimum on and off times are the day's seconds,
as on a real day. The solaredge and nrgkick bridges read the fakes every 15 of the day's
seconds (4 times a real second at x60), the kasa bridge every real second; how old a state may
be is scaled with the speed.

The StorEdge is read-only in wattbus (its remote control is not driven), so the EV guard
cannot hold it: it is left out (`GUARD_BATTERIES` none) and the battery does what it does by
itself, covering the house and the car in a shadow. The guard still says when the car charges,
on the charger's own word (`CHARGER`), as in the home scenario.

The PV signal for cloud detection is the battery's `pv_power`, not the inverter
(`SOLAR_PV` unset): the StorEdge is DC-coupled, so the inverter's AC power is the PV less what
the battery takes, plus what it gives, and a battery that charges less because the heating
rod came on would look like a cloud in a clear sky."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from wattbus.bus import Bus
from wattbus.settings import BusSettings
from wattbus.stopping import run_together
from wattbus_controller.service import Controller
from wattbus_controller.settings import ControllerSettings
from wattbus_nrgkick.service import make_bridge as charger_bridge
from wattbus_nrgkick.service import open_charger
from wattbus_nrgkick.settings import NrgkickSettings
from wattbus_solaredge.client import SolarEdge
from wattbus_solaredge.service import bridges as solaredge_bridges
from wattbus_solaredge.settings import SolarEdgeSettings

from wattbus_simulator.demo_view import BrokerAccess, BusView, Line, watch
from wattbus_simulator.processes import STOP_TIMEOUT, bus_env
from wattbus_simulator.solar_home import PEAK, VIENNA, SolarHome, of_day

HOST = "127.0.0.1"
METER, BATTERY, INVERTER = "solaredge-meter", "solaredge-battery", "solaredge-inverter"
CHARGER, PLUG = "nrgkick", "kasa"
READING = 15.0  # the day's s between two readings of the meter and the charger
FASTEST = 0.1  # real s between readings at most speeds: what the fakes can take
KASA_POLL = 1.0  # real s: the least `wattbus run kasa` takes; a plug switches in minutes
STALE = 10.0  # real s a state may be old at any speed


def controller_settings(state: Path, speed: float) -> ControllerSettings:
    return ControllerSettings.only(
        meter=METER, batteries=[BATTERY], guard_batteries=[], charger=CHARGER,
        solar_chargers={CHARGER: "nrgkick"}, solar_phases="auto", solar_pv_peak=PEAK,
        plugs=[PLUG], timezone=VIENNA, stale_after=min(STALE * speed, 3600), state_dir=state,
    )  # fmt: skip


async def run_services(
    home: SolarHome,
    port: int,
    state: Path,
    view: SolarView,
    show: Callable[[Line | None], None],
) -> None:
    clock = home.clock
    bus = BusSettings.only(mqtt_host=HOST, mqtt_port=port, health_file=state / "health")
    # Their settings keep a real device to a reading a second at most; the fakes are read
    # faster, so that the controller sees the meter and the charger every READING s of the
    # day, as it sees real ones every second: it raises a current at most every 20 s, and a
    # charger's new draw on the bus before the meter's new export would count twice.
    poll = {"poll_interval": max(FASTEST, min(1.0, READING / clock.speed))}
    solaredge = SolarEdgeSettings.only(host=HOST, port=home.solaredge.port).model_copy(update=poll)
    nrgkick = NrgkickSettings.only(host=f"{HOST}:{home.nrgkick.port}").model_copy(update=poll)
    control_bus = Bus(bus, "controller")
    control = Controller(control_bus, controller_settings(state, clock.speed), clock.now)
    inverter = SolarEdge(HOST, port=home.solaredge.port)
    try:
        async with open_charger(nrgkick) as client, plug_bridge(home, port, state):
            charger = charger_bridge(nrgkick, Bus(bus, CHARGER), client, clock=clock.now)
            devices = solaredge_bridges(solaredge, bus, inverter, clock=clock.now)
            await run_together(
                home.run(),
                watch(bus, view, show),
                *(b.serve() for b in devices if b is not None),
                charger.serve(),
                control_bus.run(),
                control.run(),
            )
    finally:
        await inverter.close()


@contextlib.asynccontextmanager
async def plug_bridge(home: SolarHome, port: int, state: Path) -> AsyncIterator[None]:
    """The kasa bridge as a process of its own on the day's clock (`wattbus_kasa.demo`): it
    links python-kasa, GPL-3.0-or-later, which no other wattbus package may. Its environment is
    the demo's values alone, and it runs in the state folder, where no `.env` is."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
    env |= bus_env(port) | {
        "WATTBUS_KASA_HOST": HOST, "WATTBUS_KASA_PORT": str(home.kasa.port),
        "WATTBUS_KASA_POLL_INTERVAL": str(KASA_POLL),
        "WATTBUS_HEALTH_FILE": str(state / "kasa.health"),
    }  # fmt: skip
    wall, day_at = time.time(), home.clock.now()
    with (state / "kasa.log").open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wattbus_kasa.demo", day_at.isoformat(), repr(wall),
            str(home.clock.speed), env=env, cwd=state, stdout=log, stderr=log,
            stdin=asyncio.subprocess.PIPE,  # its lifeline: it ends with this process
            start_new_session=True,  # out of Ctrl-C's reach: the demo stops it as it ends
        )  # fmt: skip
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()


class SolarView(BusView):
    """The day as its owner would watch it: the sun, the grid, the battery, what the car is
    given and why, and the heating rod."""

    def __init__(self, home: SolarHome, access: BrokerAccess) -> None:
        super().__init__(access)
        self.home = home

    def stamp(self) -> str:
        return f"{self.home.clock.now().astimezone(VIENNA):%H:%M:%S}"

    def _state(self, device: str, state: dict[str, Any]) -> Line | None:
        before = self.states.get(device, {})
        self.states[device] = state
        if device == "controller":
            return self._decision(before, state)
        if device == CHARGER and _charger_key(before) != _charger_key(state):
            return self._stamped(Line(f"{CHARGER}: {_charger(state)}", "charger"))
        if device == PLUG and before.get("on") != state.get("on"):
            return self._stamped(Line(f"{PLUG}: {_plug(state)}", "charger"))
        return None

    def _decision(self, before: dict[str, Any], state: dict[str, Any]) -> Line | None:
        """One line for what changed: the sky's verdict, the charger's order, the plug's; not
        for the surplus's every new figure."""
        parts = []
        if before and before.get("cloudy") != state.get("cloudy"):
            sky = "cloudy: the PV swings, aiming lower" if state.get("cloudy") else "clear again"
            parts.append(f"sky: {sky}")
        if _order(before) != _order(state):
            parts.append(f"decision: {CHARGER} {_verdict(state)}")
        if _plug_on(before) != _plug_on(state):
            parts.append(f"decision: {PLUG} {_plug_decision(state)}")
        return self._stamped(Line(" | ".join(parts), "decision")) if parts else None

    def access_lines(self) -> list[str]:
        """With a line to try a strategy: the car's current changes at the next reading."""
        a = self.access
        topic = "wattbus/controller/set/strategy"
        return [*a.lines(), f"strategy: mosquitto_pub -h {a.host} -p {a.port} -t {topic} -m fast"]

    def render(self) -> Group:
        h = self.home
        inv = self.states.get(INVERTER, {})
        grid = self.states.get(METER, {})
        bat = self.states.get(BATTERY, {})
        ctl = self.states.get("controller", {})
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()
        sky = "broken" if h.time_of_day() >= of_day(h.script.turns) else "clear"
        t.add_row("day", Text(f"{self.stamp()} Vienna  (x{h.clock.speed:g})  sky {sky}"))
        cloudy = {True: "cloudy", False: "clear", None: "?"}[ctl.get("cloudy")]
        t.add_row("PV", Text.assemble(
            f"{_w(bat.get('pv_power'))}  inverter AC {_w(inv.get('power'))}  "
            f"sky judged {cloudy}  ", self.marker(INVERTER)))  # fmt: skip
        t.add_row("grid", Text.assemble(f"{_w(grid.get('power'))} (> 0 import)  ",
                                        self.marker(METER)))  # fmt: skip
        soc = bat.get("soc")
        t.add_row("battery", Text.assemble(
            f"{'?' if soc is None else f'{soc:.0f}'} %  {_w(bat.get('power'))} (> 0 charging)  ",
            self.marker(BATTERY)))  # fmt: skip
        t.add_row("surplus", Text(f"{_w(ctl.get('surplus'))} for the car"))
        charger = self.states.get(CHARGER, {})
        t.add_row("NRGKICK", Text.assemble(f"{_charger(charger)}  ", self.marker(CHARGER)))
        t.add_row("told", Text(_verdict(ctl) if ctl else "waiting for the controller"))
        plug = self.states.get(PLUG, {})
        t.add_row("heating rod", Text.assemble(f"{_plug(plug)}  ", self.marker(PLUG)))
        t.add_row("why", Text(_plug_decision(ctl) if ctl else "waiting for the controller"))
        events = Text("\n").join(e.styled() for e in self.events) or Text("none yet")
        return Group(
            Panel(t, title="wattbus demo: a sunny-then-cloudy day  (Ctrl-C to stop)"),
            Panel(events, title="events on the bus"),
            Panel(Text("\n".join(self.access_lines())), title="this demo's broker"),
        )


def _w(value: object) -> str:
    return f"{value:6.0f} W" if isinstance(value, int | float) else "     ? W"


def _charger_key(c: dict[str, Any]) -> tuple[object, ...]:
    return (c.get("charging"), c.get("plugged"), c.get("phases"), c.get("mode"), c.get("error"))


def _charger(c: dict[str, Any]) -> str:
    if not c:
        return "?"
    if not c.get("plugged"):
        return "no car"
    energy = (c.get("session_energy") or 0) / 1000
    doing = (
        f"charging {c.get('current')} A on {_phases(c.get('phases'))}, {c.get('power') or 0:.0f} W"
        if c.get("charging")
        else f"{c.get('mode')}, not charging"
    )
    return f"{doing}, car has {energy:.1f} kWh"


def _phases(n: object) -> str:
    return "1 phase" if n == 1 else f"{n} phases"


def _order(ctl: dict[str, Any]) -> tuple[object, ...]:
    v = ctl.get("chargers", {}).get(CHARGER, {})
    return (v.get("action"), v.get("current"), v.get("phases"), v.get("strategy"))


def _verdict(ctl: dict[str, Any]) -> str:
    v = ctl.get("chargers", {}).get(CHARGER)
    if not v:
        return "not decided yet"
    phases = f" on {_phases(v['phases'])}" if v.get("phases") else ""
    return f"{v.get('action')}{phases} ({v.get('strategy')}): {v.get('reason')}"


def _plug_on(ctl: dict[str, Any]) -> object:
    return ctl.get("plugs", {}).get(PLUG, {}).get("on")


def _plug_decision(ctl: dict[str, Any]) -> str:
    d = ctl.get("plugs", {}).get(PLUG)
    if not d:
        return "not decided yet"
    word = {True: "on", False: "off", None: "left"}[d.get("on")]
    return f"{word}: {d.get('reason')}"


def _plug(p: dict[str, Any]) -> str:
    if not p:
        return "?"
    return f"{'on' if p.get('on') else 'off'}, {p.get('power') or 0:.0f} W"
