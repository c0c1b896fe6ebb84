"""What the demo shows of the bus: a live view on a terminal, or, where there is none (a pipe,
`docker logs`, CI), one line per decision, event and availability change.

Whatever the bus says is shown as plain text and never read as rich markup, so a marker such as
`[online]` reaches the screen instead of being taken for a style.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiomqtt
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from wattbus.settings import BusSettings

from wattbus_simulator.home import SimulatedHome

EVENTS_SHOWN = 8
CHARGER = "smartevse"  # the SmartEVSE bridge's id in the demo

# how each kind of event stands out in the pane; a notice is the guard telling a person
# what it decided, so it is the loudest
STYLES = {
    "notice": "bold yellow",
    "applied": "green",
    "rejected": "magenta",
    "error": "bold red",
    "decision": "bold cyan",
    "charger": "cyan",
    "online": "green",
    "offline": "red",
}


@dataclass(frozen=True)
class BrokerAccess:
    """How to reach the demo's broker from another terminal while the demo runs."""

    host: str
    port: int
    kind: str

    def lines(self) -> list[str]:
        env = f"WATTBUS_MQTT_HOST={self.host} WATTBUS_MQTT_PORT={self.port}"
        return [
            f"broker: {self.kind} on {self.host}:{self.port}, no login (anonymous, loopback only)",
            f"status: {env} uv run wattbus status",
            f"watch:  mosquitto_sub -h {self.host} -p {self.port} -t 'wattbus/#' -v",
        ]


@dataclass(frozen=True)
class Line:
    """One thing that happened on the bus, in words, and the kind it is (for its style)."""

    text: str
    kind: str

    def styled(self) -> Text:
        return Text(self.text, style=STYLES.get(self.kind, ""))


def describe_event(device: str, event: dict[str, Any]) -> Line:
    """A notice with its code, reason and values; any other event with the bridge's note."""
    kind = str(event.get("kind"))
    reason = event.get("reason")
    if kind == "notice":
        data = event.get("data")
        values = ""
        if isinstance(data, dict) and data:
            values = " (" + ", ".join(f"{k}={v}" for k, v in data.items()) + ")"
        return Line(f"{device} NOTICE {event.get('code')}: {reason or ''}{values}", kind)
    detail = reason or event.get("command") or ""
    return Line(f"{device} {kind}: {detail}", kind)


def decision_key(state: dict[str, Any]) -> tuple[object, ...]:
    """What makes a new decision; the reason's numbers change every reading and do not."""
    return (
        state.get("mode"),
        state.get("ev_charging"),
        tuple(state.get("holding") or ()),
        "house_power" in state,
    )


class BusView:
    """What the bus says, as a person would want to watch it: what every view shares. A
    subclass says which states make a line, and renders the screen."""

    def __init__(self, access: BrokerAccess) -> None:
        self.access = access
        self.states: dict[str, dict[str, Any]] = {}
        self.availability: dict[str, str] = {}
        self.events: deque[Line] = deque(maxlen=EVENTS_SHOWN)

    def take(self, topic: str, payload: bytes) -> Line | None:
        """Note a message; the line to show for it, if it is a decision, an event or a change
        of availability."""
        parts = topic.split("/")
        if len(parts) < 3:
            return None
        device, kind = parts[1], parts[2]
        try:
            if kind == "availability":
                return self._availability(device, payload.decode())
            if kind in ("state", "event"):
                body = json.loads(payload)
                if not isinstance(body, dict):
                    return None
                return self._state(device, body) if kind == "state" else self._event(device, body)
        except ValueError:  # not UTF-8 or not JSON: nothing a person could read
            return None
        return None

    def access_lines(self) -> list[str]:
        """How to reach the broker, as the view shows it and line mode prints it first."""
        return self.access.lines()

    def _availability(self, device: str, value: str) -> Line | None:
        if self.availability.get(device) == value:
            return None
        self.availability[device] = value
        return self._stamped(Line(f"{device}: {value}", value))

    def _state(self, device: str, state: dict[str, Any]) -> Line | None:
        raise NotImplementedError

    def render(self) -> Group:
        raise NotImplementedError

    def _event(self, device: str, event: dict[str, Any]) -> Line:
        line = self._stamped(describe_event(device, event))
        self.events.appendleft(line)
        return line

    def stamp(self) -> str:
        """The time a line is stamped with: the wall clock, unless the view has its own."""
        return f"{datetime.now():%H:%M:%S}"

    def _stamped(self, line: Line) -> Line:
        return Line(f"{self.stamp()} {line.text}", line.kind)

    def marker(self, device: str) -> Text:
        value = self.availability.get(device, "?")
        return Text(f"[{value}]", style=STYLES.get(value, ""))


class View(BusView):
    """The simulated household: the meter, the battery, the charger and the guard."""

    meter = "grid-meter"  # the id of the bridge whose state is the grid's

    def __init__(self, home: SimulatedHome, access: BrokerAccess) -> None:
        super().__init__(access)
        self.home = home

    def _state(self, device: str, state: dict[str, Any]) -> Line | None:
        before = self.states.get(device)
        self.states[device] = state
        if device == CHARGER:
            return self._charger_change(before, state)
        if device != "controller" or (before and decision_key(before) == decision_key(state)):
            return None
        holding = ", ".join(state.get("holding") or ()) or "nothing"
        text = f"decision: {state.get('reason')} (EV charging: {state.get('ev_charging')}, "
        return self._stamped(Line(text + f"holding {holding})", "decision"))

    def _charger_change(self, before: dict[str, Any] | None, state: dict[str, Any]) -> Line | None:
        """A line when the car starts or stops, or the charger's mode or error changes; not for
        every current the Solar mode settles on."""
        key = ("charging", "mode", "error")
        if before and all(before.get(k) == state.get(k) for k in key):
            return None
        doing = f"charging at {state.get('current')} A" if state.get("charging") else "not charging"
        error = f", error: {state['error']}" if state.get("error") else ""
        return self._stamped(Line(f"{CHARGER}: {state.get('mode')}, {doing}{error}", "charger"))

    def _grid(self) -> str:
        """The meter's total and its phases, as a Shelly Pro 3EM gives them."""
        grid = self.states.get(self.meter, {})
        return (
            f"{grid.get('power', 0):8.0f} W   L1 {grid.get('power_l1', 0):6.0f}  "
            f"L2 {grid.get('power_l2', 0):6.0f}  L3 {grid.get('power_l3', 0):6.0f}   "
        )

    def _charger(self) -> Text:
        """The SmartEVSE as its bridge publishes it: what the charger does, and the feed."""
        c = self.states.get(CHARGER, {})
        current = c.get("current")
        offer = f"{current:g} A" if isinstance(current, int | float) else "?"
        error = f"  error: {c['error']}" if c.get("error") else ""
        return Text.assemble(
            f"{c.get('mode', '?')}  charging: {c.get('charging', '?')}  offers {offer}  "
            f"{c.get('power') or 0:5.0f} W{error}  ",
            self.marker(CHARGER),
        )

    def render(self) -> Group:
        bat = self.states.get("zendure", {})
        ctl = self.states.get("controller", {})
        h = self.home
        ev = h.household.ev_power(h.sim_time)
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()
        t.add_row("simulated time", Text(f"{h.sim_time / 60:6.1f} min  (x{h.speed:g})"))
        if h.household.roof_pv:
            t.add_row("sun (simulated)", Text(f"{h.household.solar(h.sim_time):.0f} W"))
        car = "plugged in, " if h.household.car_plugged(h.sim_time) else ""
        t.add_row("EV (simulated)", Text(f"{car}charging {ev:.0f} W" if ev else f"{car}idle"))
        if h.charger is not None:
            t.add_row("charger", self._charger())
        t.add_row("grid", Text.assemble(self._grid(), self.marker(self.meter)))
        hold = (
            f"HOLD via {bat.get('hold_route')} until {str(bat.get('hold_expires', ''))[11:19]}"
            if bat.get("hold")
            else "normal"
        )
        t.add_row(
            "battery",
            Text.assemble(
                f"{bat.get('soc', 0):5.0f} %  {bat.get('power', 0):6.0f} W  to home "
                f"{bat.get('output_home_power', 0):5.0f} W  min SoC {bat.get('min_soc', '?')} %  "
                f"limit {bat.get('output_limit', '?')} W  {hold}  ",
                self.marker("zendure"),
            ),
        )
        t.add_row(
            "controller",
            Text.assemble(
                f"mode {ctl.get('mode', '?')}  EV charging: {ctl.get('ev_charging', '?')}  "
                f"house {ctl.get('house_power') or 0:.0f} W  ",
                self.marker("controller"),
            ),
        )
        t.add_row("decision", Text(str(ctl.get("reason", "waiting for the first meter reading"))))
        events = Text("\n").join(e.styled() for e in self.events) or Text("none yet")
        return Group(
            Panel(t, title="wattbus demo  (Ctrl-C to stop)"),
            Panel(events, title="events on the bus"),
            Panel(Text("\n".join(self.access_lines())), title="this demo's broker"),
        )


async def watch(bus: BusSettings, view: BusView, show: Callable[[Line | None], None]) -> None:
    async with aiomqtt.Client(bus.mqtt_host, bus.mqtt_port, identifier="wattbus-demo-view") as c:
        await c.subscribe(f"{bus.topic_prefix}/#")
        async for m in c.messages:
            if isinstance(m.payload, bytes):
                show(view.take(str(m.topic), m.payload))
