"""`wattbus demo --scenario dispatch`: a dispatch evening with a Zappi and a Powerwall, live.

The kraken, myenergi and powerwall bridges and the controller (EV guard and dispatch) run
against the evening's fakes on the demo's broker, every one on the evening's clock (see
demo_clock.py). Times that the services measure in seconds of that clock (a lease, how old a
state may be) are scaled with the speed, so that they mean at speed x30 what they mean at x1
in real seconds: a Zappi read every 5 real seconds is 150 evening seconds old at worst."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from wattbus.bus import Bus
from wattbus.settings import BusSettings
from wattbus.stopping import run_together
from wattbus_controller.service import Controller
from wattbus_controller.settings import ControllerSettings
from wattbus_kraken.service import KrakenBridge
from wattbus_kraken.settings import KrakenSettings
from wattbus_myenergi.service import make_bridge as zappi_bridge
from wattbus_myenergi.service import open_zappi
from wattbus_myenergi.settings import MyenergiSettings
from wattbus_powerwall.service import make_bridge as powerwall_bridge
from wattbus_powerwall.service import make_gateway
from wattbus_powerwall.settings import PowerwallSettings

from wattbus_simulator.demo_view import BrokerAccess, BusView, Line, watch
from wattbus_simulator.evening import ACCOUNT, API_KEY, GATEWAY_PASSWORD, LONDON, Evening

HOST = "127.0.0.1"
TARIFF, CHARGER, BATTERY = "kraken", "zappi", "powerwall"
ZAPPI_POLL = 5.0  # real s: the least the myenergi bridge takes
POWERWALL_POLL = 2.0  # real s
LEASE = 90.0  # the controller's lease at x1, in real s
STALE = 30.0  # how old a state may be at x1, in real s
RELEASE = 120.0  # the EV guard's release wait at x1
NOTES_EVERY = 0.25  # real s between looks at the evening's script


async def run_services(
    evening: Evening,
    port: int,
    state: Path,
    view: DispatchView,
    show: Callable[[Line | None], None],
) -> None:
    speed = evening.clock.speed
    bus = BusSettings.only(mqtt_host=HOST, mqtt_port=port, health_file=state / "health")
    kraken = KrakenSettings.only(
        supplier="octopus", account=ACCOUNT, api_key=SecretStr(API_KEY),
        url=evening.kraken.endpoint, state_dir=state,
    )  # fmt: skip
    zappi = MyenergiSettings.only(
        hub_serial=evening.zappi_state.hub_serial,
        api_key=SecretStr(evening.zappi_state.api_key),
        loopback_port=evening.zappi.port,
        poll_interval=ZAPPI_POLL,
    )
    powerwall = PowerwallSettings.only(
        host=evening.powerwall.host_and_port, password=SecretStr(GATEWAY_PASSWORD),
        state_dir=state, poll_interval=POWERWALL_POLL,
    )  # fmt: skip
    controller = ControllerSettings.only(
        batteries=[BATTERY], charger=CHARGER, tariff=TARIFF, state_dir=state,
        lease=min(LEASE * speed, 86_400), stale_after=min(STALE * max(speed, ZAPPI_POLL), 3600),
        release=min(RELEASE, 3600),
    )  # fmt: skip
    clock = evening.clock
    tariff_bus = Bus(bus, TARIFF)
    tariff = KrakenBridge(tariff_bus, kraken, clock)
    control_bus = Bus(bus, "controller")
    control = Controller(control_bus, controller, clock.now)
    async with open_zappi(zappi) as z, make_gateway(powerwall) as gateway:
        await gateway.connect()
        charger = zappi_bridge(zappi, Bus(bus, CHARGER), z, clock=clock.now)
        battery = powerwall_bridge(powerwall, Bus(bus, BATTERY), gateway, clock=clock.now)
        try:
            await run_together(
                evening.run(),
                watch(bus, view, show),
                notes(view, show),
                tariff_bus.run(),
                tariff.run(),
                charger.serve(),
                battery.serve(),
                control_bus.run(),
                control.run(),
            )
        finally:
            await tariff.close()


async def notes(view: DispatchView, show: Callable[[Line | None], None]) -> None:
    """The evening's own steps as they happen: they are not on the bus."""
    while True:
        await asyncio.sleep(NOTES_EVERY)
        for line in view.script_lines():
            show(line)


class DispatchView(BusView):
    """The evening as its owner would watch it: the supplier's windows, the car, the battery
    and who holds it, with the time of the evening."""

    def __init__(self, evening: Evening, access: BrokerAccess) -> None:
        super().__init__(access)
        self.evening = evening
        self._notes_shown = 0

    def stamp(self) -> str:
        return f"{self.evening.clock.now().astimezone(LONDON):%H:%M:%S}"

    def script_lines(self) -> list[Line]:
        """The evening's own steps not shown yet, oldest first (for line mode)."""
        notes = list(self.evening.notes)
        new = len(notes) - min(self._notes_shown, len(notes))
        self._notes_shown = len(notes)
        return [Line(f"evening {n}", "charger") for n in reversed(notes[:new])]

    def _state(self, device: str, state: dict[str, Any]) -> Line | None:
        before = self.states.get(device, {})
        self.states[device] = state
        if device == CHARGER and before.get("status_code") != state.get("status_code"):
            return self._stamped(Line(f"{CHARGER}: {_zappi(state)}", "charger"))
        if device == BATTERY and _held(before) != _held(state):
            return self._stamped(Line(f"{BATTERY}: {_battery(state)}", "decision"))
        if device == "controller":
            key = (_verdict(before), before.get("dispatch_until"))
            if key != (_verdict(state), state.get("dispatch_until")):
                return self._stamped(Line(f"decision: {_reason(state)}", "decision"))
        return None

    def render(self) -> Group:
        tariff = self.states.get(TARIFF, {})
        ctl = self.states.get("controller", {})
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()
        t.add_row("evening", Text(f"{self.stamp()} London  (x{self.evening.clock.speed:g})"))
        t.add_row("supplier", Text.assemble(_windows(tariff), "  ", self.marker(TARIFF)))
        zappi = self.states.get(CHARGER, {})
        t.add_row("Zappi", Text.assemble(_zappi(zappi), "  ", self.marker(CHARGER)))
        battery = self.states.get(BATTERY, {})
        t.add_row("Powerwall", Text.assemble(_battery(battery), "  ", self.marker(BATTERY)))
        verdict = ctl.get("devices", {}).get(BATTERY, {})
        held = f"held by {verdict.get('winner')}" if verdict.get("hold") else "not held"
        until = ctl.get("dispatch_until")
        dispatch = f"  dispatch holds until {_local(until)}" if until else ""
        t.add_row("controller", Text.assemble(f"{held}{dispatch}  ", self.marker("controller")))
        t.add_row("decision", Text(_reason(ctl) or "waiting for the first states"))
        notes = Text("\n".join(self.evening.notes) or "about to start")
        events = Text("\n").join(e.styled() for e in self.events) or Text("none yet")
        return Group(
            Panel(t, title="wattbus demo: a dispatch evening  (Ctrl-C to stop)"),
            Panel(notes, title="what happens in the house (newest first)"),
            Panel(events, title="events on the bus"),
            Panel(Text("\n".join(self.access_lines())), title="this demo's broker"),
        )


def _local(iso: object) -> str:
    try:
        return f"{datetime.fromisoformat(str(iso)).astimezone(LONDON):%H:%M}"
    except ValueError:
        return "?"


def _windows(tariff: dict[str, Any]) -> str:
    windows = tariff.get("windows") or []
    if not tariff:
        return "?"
    shown = [f"{w.get('kind')} {_local(w.get('start'))}-{_local(w.get('end'))}" for w in windows]
    now = "a smart window runs" if tariff.get("active") else "no window now"
    return f"{now}; planned: {', '.join(shown) or 'none'}"


def _zappi(z: dict[str, Any]) -> str:
    if not z:
        return "?"
    energy = (z.get("session_energy") or 0) / 1000
    return (
        f"{z.get('status_code')} {z.get('status')}, {z.get('mode_name')}, "
        f"{z.get('power') or 0:.0f} W, {energy:.1f} kWh this session"
    )


def _held(b: dict[str, Any]) -> tuple[object, ...]:
    return (b.get("hold"), b.get("operation"), b.get("reserve"))


def _battery(b: dict[str, Any]) -> str:
    if not b:
        return "?"
    hold = "  HOLD" if b.get("hold") else ""
    return (
        f"{b.get('soc', 0):5.1f} %  {b.get('power', 0):6.0f} W  {b.get('operation')}, "
        f"reserve {b.get('reserve')} %{hold}"
    )


def _verdict(ctl: dict[str, Any]) -> tuple[object, ...]:
    v = ctl.get("devices", {}).get(BATTERY, {})
    return (v.get("hold"), v.get("winner"))


def _reason(ctl: dict[str, Any]) -> str:
    return str(ctl.get("devices", {}).get(BATTERY, {}).get("reason") or ctl.get("reason") or "")
