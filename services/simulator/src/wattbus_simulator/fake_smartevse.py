"""A SmartEVSE v3 on MQTT, as its firmware behaves (its `mqtt_receive_callback`, `Timer1S`,
`CalcIsum` and `mqttPublishData`):

- it connects as its prefix (default `SmartEVSE/<serial>`), with the last will
  `<prefix>/connected` = `offline` retained, says `online` retained and subscribes to
  `<prefix>/Set/#` at QoS 1;
- it applies the `Set/` topics the bus feeds it and ignores, silently, what the firmware
  ignores. Integers are read as the firmware reads them (C `atoi`): leading digits count, and
  text without any is 0. Two firmware lines: "dingo" takes a `MainsMeter` of exactly 3 or 5
  fields, "upstream" reads the first 3 and ignores the rest. It is a standalone unit (LoadBl 0)
  with its mains meter set to API (or none, `api_meter=False`);
- `tick()` is the firmware's 1 s task; tests call it, `run()` calls it once a second. A valid
  `MainsMeter` sets the mains counter to 11; each tick takes one off, and the tick that finds it
  at 0 in Smart or Solar mode sets CT_NOCOMM and makes power unavailable: more than 11 s
  without a feed stops charging, with `Error` `Communication Error` (the firmware's name for the
  CT_NOCOMM bit; `No Power Available` is LESS_6A's, which a feed timeout does not set). The next
  valid feed clears it. In Normal mode the counter runs down and nothing happens;
- a `HomeBatteryCurrent` counts only in Solar mode and only while it is at most 60 s old;
- it publishes its state topics (QoS 0, the firmware's retained ones retained) every 10 ticks,
  at once after every `Set/` message and when a tick changes something. Each publication ends
  with `EVTotalEnergyCharged`;
- on connect it announces itself to Home Assistant as the firmware does (`announce`): a few
  of its entities, retained, with the firmware's device block (`identifiers` its prefix).

The car and the balancing are simplified, close enough to show a feed working: a car draws
the charge current on `phases` phases at 230 V whenever it may. A valid feed sets the mains
currents, minus battery/3 per phase in Solar mode (`CalcIsum`); then Solar charges at what it
drew plus the surplus per phase, Smart at what it drew plus the room left under `MaxSumMains`
per phase (the maximum current if that is 0), Normal at the maximum current or the override.
Below the minimum current the car waits. Not modelled: MaxMains, the solar start and stop
timers, the charge delay after an error, phase switching, load balancing between units.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import aiomqtt
from wattbus.closing import AsyncClosing
from wattbus.stopping import stop

FirmwareLine = Literal["dingo", "upstream"]
ChargeMode = Literal["Normal", "Smart", "Solar"]
Access = Literal["Allow", "Deny", "Pause"]
CHARGE_MODES: dict[str, ChargeMode] = {"Normal": "Normal", "Smart": "Smart", "Solar": "Solar"}

COMM_TIMEOUT = 11  # ticks a valid MainsMeter keeps the mains meter fresh (main.h)
BATTERY_EXPIRY = 60  # ticks: an older HomeBatteryCurrent counts as 0
PUBLISH_EVERY = 10  # ticks between state publications when nothing changes
TICK = 1.0  # s: the firmware's 1 s task, in run()
KEEPALIVE = 15  # s, the firmware's
PHASE_LIMIT = 2000  # dA: each MainsMeter phase must be strictly inside -2000..2000
MAX_SUM_MAINS = (10, 600)  # A: CurrentMaxSumMains accepts these, and 0 (off)
VOLTAGE = 230  # V per phase, for the car's power
SET_QOS = 1
STATE_QOS = 0
# (entity name, Home Assistant domain): some of what the firmware announces, enough to show
# which device the entities land on
ANNOUNCED = (("Mode", "select"), ("Charge Current", "sensor"), ("State", "sensor"))
SW_VERSION = "fake"

STATE_NAMES = {
    "A": "Ready to Charge",
    "B": "Connected to EV",
    "C": "Charging",
    "B1": "Charging Stopped",
    "C1": "Stop Charging",
}
NO_ERROR = "None"
COMM_ERROR = "Communication Error"  # CT_NOCOMM: the mains meter fell silent

_INT = re.compile(r"\s*([+-]?\d+)")  # what C's atoi and sscanf's %d read
_MAINS_UPSTREAM = re.compile(r"\s*([+-]?\d+):\s*([+-]?\d+):\s*([+-]?\d+)")  # "%d:%d:%d"


class Ignored(Exception):
    """The firmware drops the message without a word; the fake records why."""


@dataclass(frozen=True)
class Received:
    """One `Set/` message and what the firmware did with it."""

    topic: str  # after `<prefix>/Set/`
    payload: str
    applied: bool
    why: str  # what it changed, or why it was ignored


def discovery_configs(prefix: str) -> list[tuple[str, dict[str, object]]]:
    """(topic, payload) of the firmware's Home Assistant discovery: one config per entity,
    its device named and identified by the prefix (`MQTTclient_t::announce`)."""
    device = {"model": "SmartEVSE v3", "identifiers": prefix, "name": prefix,
              "manufacturer": "Stegen", "sw_version": SW_VERSION}  # fmt: skip
    out = []
    for name, domain in ANNOUNCED:
        suffix = name.replace(" ", "")
        payload: dict[str, object] = {
            "name": name,
            "unique_id": f"{prefix}-{suffix}",
            "state_topic": f"{prefix}/{suffix}",
            "availability_topic": f"{prefix}/connected",
            "device": device,
        }
        out.append((f"homeassistant/{domain}/{prefix}-{suffix}/config", payload))
    return out


def atoi(text: str) -> int:
    found = _INT.match(text)
    return int(found.group(1)) if found else 0


def parse_mains(payload: str, firmware: FirmwareLine) -> list[int] | None:
    """L1..L3 in dA as the firmware line reads them, or None for a message it drops."""
    if firmware == "upstream":
        found = _MAINS_UPSTREAM.match(payload)
        phases = [int(v) for v in found.groups()] if found else None
    else:
        fields = payload.split(":")
        if len(fields) not in (3, 5) or not all(_INT.fullmatch(f) for f in fields):
            return None
        phases = [int(f) for f in fields[:3]]
    if phases is None or not all(-PHASE_LIMIT < i < PHASE_LIMIT for i in phases):
        return None
    return phases


@dataclass
class SmartEvse:
    """The firmware's state and rules, without I/O; `now` counts ticks."""

    firmware: FirmwareLine = "dingo"
    api_meter: bool = True  # the mains meter type is API: fed over MQTT
    mode: ChargeMode = "Normal"
    access: Access = "Allow"
    min_current: int = 6  # A
    max_current: int = 16  # A
    max_sum_mains: int = 0  # A, 0: off
    override: int = 0  # dA, 0: none
    phases: int = 3
    plugged: bool = False  # the test's switch: a car on the cable
    mains: list[int] = field(default_factory=lambda: [0, 0, 0])  # dA, after CalcIsum
    mains_timeout: int = COMM_TIMEOUT
    comm_error: bool = False
    battery: int = 0  # dA, > 0 charging
    battery_at: int | None = None  # the tick it was set at
    charge_current: int = 0  # dA
    state_id: str = "A"
    session_energy: float = 0.0  # Wh
    total_energy: float = 0.0  # Wh
    now: int = 0
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._balance(fed=False)
        self._settle()

    def handle(self, topic: str, payload: str) -> Received:
        """One `Set/<topic>` message, recorded."""
        handler = self._handlers().get(topic)
        try:
            if handler is None:
                raise Ignored("a topic the fake does not model")
            record = Received(topic, payload, True, handler(payload))
        except Ignored as err:
            record = Received(topic, payload, False, str(err))
        self.received.append(record)
        self._settle()
        return record

    def tick(self) -> bool:
        """One second of the firmware's 1 s task; True if the state topics are due."""
        before = self.topics()
        self.now += 1
        if self.api_meter:
            if self.mains_timeout == 0 and not self.comm_error and self.mode != "Normal":
                self.comm_error = True
            elif self.mains_timeout:
                self.mains_timeout -= 1
        if self.state_id == "C1":
            self.state_id = "B1"  # the car obeys the stop
        if self.state_id == "C":
            wh = self.power() / 3600
            self.session_energy += wh
            self.total_energy += wh
        self._settle()
        return self.now % PUBLISH_EVERY == 0 or self.topics() != before

    def plug(self, plugged: bool) -> None:
        if plugged and not self.plugged:
            self.session_energy = 0.0
        self.plugged = plugged
        self._balance(fed=False)
        self._settle()

    def battery_fresh(self) -> bool:
        return self.battery_at is not None and self.now - self.battery_at <= BATTERY_EXPIRY

    def battery_current(self) -> int:
        """`getBatteryCurrent()`: the stored value, only in Solar mode and while fresh."""
        if self.mode == "Solar" and self.api_meter and self.battery_fresh():
            return self.battery
        return 0

    def power(self) -> int:
        """W the car draws."""
        return self.charge_current * self.phases * VOLTAGE // 10 if self.state_id == "C" else 0

    def topics(self) -> list[tuple[str, str, bool]]:
        """(topic after the prefix, payload, retained), in the order they are published."""
        mode = {"Deny": "Off", "Pause": "Pause", "Allow": self.mode}[self.access]
        out = [(f"MainsCurrentL{i + 1}", str(v), False) for i, v in enumerate(self.mains)]
        out += [
            ("Mode", mode, True),
            ("MaxCurrent", str(self.max_current * 10), True),
            ("MaxSumMains", str(self.max_sum_mains), True),
            ("ChargeCurrent", str(self.charge_current), True),
            ("ChargeCurrentOverride", str(self.override), True),
            ("NrOfPhases", str(self.phases), True),
            ("Access", self.access, True),
            ("State", STATE_NAMES[self.state_id], True),
            ("StateID", self.state_id, True),
            ("Error", COMM_ERROR if self.comm_error else NO_ERROR, True),
            ("EVPlugState", "Connected" if self.plugged else "Disconnected", True),
            ("EVChargePower", str(self.power()), False),
            ("EVEnergyCharged", str(round(self.session_energy)), True),
        ]
        if self.battery_fresh():
            out.append(("HomeBatteryCurrent", str(self.battery), False))
        out.append(("EVTotalEnergyCharged", str(round(self.total_energy)), False))
        return out

    def _handlers(self) -> dict[str, Callable[[str], str]]:
        return {
            "Mode": self._set_mode,
            "CurrentOverride": self._set_override,
            "CurrentMaxSumMains": self._set_max_sum_mains,
            "MainsMeter": self._set_mains,
            "HomeBatteryCurrent": self._set_battery,
        }

    def _set_mode(self, payload: str) -> str:
        if payload == "Off":
            self.access = "Deny"
        elif payload == "Pause":
            self.access = "Pause"
        elif payload in CHARGE_MODES:
            if payload == "Solar" or (payload == "Smart" and self.firmware == "upstream"):
                self.override = 0
            self.mode = CHARGE_MODES[payload]
            self.access = "Allow"  # choosing a mode ends Off and Pause
            self._balance(fed=False)
        else:
            raise Ignored("not a mode")
        return f"mode {payload}"

    def _set_override(self, payload: str) -> str:
        value = atoi(payload)
        if value == 0:
            self.override = 0
        elif self.mode == "Solar":
            raise Ignored("no override in Solar mode")
        elif not self.min_current * 10 <= value <= self.max_current * 10:
            raise Ignored("outside MinCurrent..MaxCurrent")
        else:
            self.override = value
        self._balance(fed=False)
        return f"override {self.override} dA"

    def _set_max_sum_mains(self, payload: str) -> str:
        value = atoi(payload)
        low, high = MAX_SUM_MAINS
        if value != 0 and not low <= value <= high:
            raise Ignored("outside 10..600 A")
        self.max_sum_mains = value
        self._balance(fed=False)
        return f"max sum mains {value} A"

    def _set_mains(self, payload: str) -> str:
        if not self.api_meter:
            raise Ignored("the mains meter is not API")
        phases = parse_mains(payload, self.firmware)
        if phases is None:
            raise Ignored(f"not a MainsMeter the {self.firmware} firmware takes")
        self.mains_timeout, self.comm_error = COMM_TIMEOUT, False
        per_phase = int(self.battery_current() / 3)  # C division: towards 0
        self.mains = [i - per_phase for i in phases]
        self._balance(fed=True)
        return f"mains {':'.join(map(str, self.mains))} dA"

    def _set_battery(self, payload: str) -> str:
        self.battery, self.battery_at = atoi(payload), self.now
        return f"battery {self.battery} dA"

    def _balance(self, *, fed: bool) -> None:
        """The charge current: at once in Normal, from a new reading in Smart and Solar (a
        reading shows the car's own draw; without a new one there is nothing to correct)."""
        drew = self.charge_current if self.state_id == "C" else 0
        isum = sum(self.mains)
        if self.override and self.mode != "Solar":
            target = self.override
        elif self.mode == "Normal" or (self.mode == "Smart" and not self.max_sum_mains):
            target = self.max_current * 10
        elif not fed:
            return
        elif self.mode == "Smart":
            target = drew + int((self.max_sum_mains * 10 - isum) / self.phases)
        else:
            target = drew - int(isum / self.phases)
        target = min(target, self.max_current * 10)
        self.charge_current = target if target >= self.min_current * 10 else 0

    def _settle(self) -> None:
        """The EVSE's state from the car and what it may do: a stop while charging goes
        through C1, which the car answers at the next tick."""
        may_charge = (
            self.access == "Allow"
            and not self.comm_error
            and self.charge_current >= self.min_current * 10
        )
        if not self.plugged:
            self.state_id = "A"
        elif may_charge:
            self.state_id = "C"
        elif self.state_id == "C":
            self.state_id = "C1"
        elif self.state_id == "A":
            self.state_id = "B"


class FakeSmartEvse(AsyncClosing):
    """`await start()` connects; `tick()` runs the firmware's second; `stop()` goes away,
    saying `offline`."""

    def __init__(
        self,
        port: int,
        *,
        serial: str = "12345",
        prefix: str | None = None,
        username: str | None = None,
        password: str | None = None,
        evse: SmartEvse | None = None,
    ) -> None:
        self.evse = evse or SmartEvse()
        self.prefix = prefix or f"SmartEVSE/{serial}"
        self._port, self._username, self._password = port, username, password
        self._client: aiomqtt.Client | None = None
        self._stack = contextlib.AsyncExitStack()
        self._listener: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one change and its publication at a time

    @property
    def received(self) -> list[Received]:
        return self.evse.received

    async def start(self) -> None:
        connected = f"{self.prefix}/connected"
        self._client = await self._stack.enter_async_context(
            aiomqtt.Client(
                "127.0.0.1",
                self._port,
                username=self._username,
                password=self._password,
                identifier=self.prefix,  # the firmware's client id
                keepalive=KEEPALIVE,
                will=aiomqtt.Will(connected, "offline", qos=0, retain=True),
            )
        )
        await self._client.publish(connected, "online", qos=0, retain=True)
        for topic, payload in discovery_configs(self.prefix):
            await self._client.publish(topic, json.dumps(payload), qos=0, retain=True)
        await self._client.subscribe(f"{self.prefix}/Set/#", qos=SET_QOS)
        self._listener = asyncio.create_task(self._listen(self._client))
        await self.publish_state()

    async def stop(self) -> None:
        """The charger goes away. aiomqtt cannot drop a connection without a DISCONNECT (which
        cancels the will), so the fake says `offline` itself, as the broker would for it."""
        if self._listener is not None:
            await stop(self._listener)
            self._listener = None
        if self._client is not None:
            with contextlib.suppress(aiomqtt.MqttError):  # already pushed off the broker
                await self._client.publish(f"{self.prefix}/connected", "offline", retain=True)
            self._client = None
        with contextlib.suppress(aiomqtt.MqttError):
            await self._stack.aclose()

    async def close(self) -> None:
        await self.stop()

    async def tick(self) -> bool:
        """The firmware's 1 s task; True if it published its state."""
        async with self._lock:
            due = self.evse.tick()
            if due:
                await self._publish()
            return due

    async def run(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(TICK)

    async def plug(self, plugged: bool) -> None:
        """A car plugged in or out; the state follows at once."""
        async with self._lock:
            self.evse.plug(plugged)
            await self._publish()

    async def publish_state(self) -> None:
        async with self._lock:
            await self._publish()

    async def _listen(self, client: aiomqtt.Client) -> None:
        set_prefix = f"{self.prefix}/Set/"
        with contextlib.suppress(aiomqtt.MqttError):  # pushed off: the will speaks for it
            async for message in client.messages:
                topic = message.topic.value
                if not topic.startswith(set_prefix) or not isinstance(message.payload, bytes):
                    continue
                payload = message.payload.decode(errors="replace")
                async with self._lock:
                    self.evse.handle(topic.removeprefix(set_prefix), payload)
                    await self._publish()

    async def _publish(self) -> None:
        if self._client is None:
            raise RuntimeError("the fake SmartEVSE is not connected: start() it first")
        for topic, payload, retain in self.evse.topics():
            await self._client.publish(
                f"{self.prefix}/{topic}", payload, qos=STATE_QOS, retain=retain
            )
