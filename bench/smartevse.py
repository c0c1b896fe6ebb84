"""SmartEVSE feed: how fast and how steadily the bridge feeds a SmartEVSE its mains meter, what
the charger does when the meter falls silent, and how soon the charger's own word holds the
battery.

The bridge (`wattbus run smartevse`) and the controller run as real processes; the meter, the
charger and the battery are played by the bench, in this process, on one clock
(`time.perf_counter`): the stamp of a publish and the stamp of its arrival compare directly.

1. Feed latency: a `MeterState` (every field the Shelly bridge sets, fresh `ts`, a house whose
   load wanders) once a second on `wattbus/grid-meter/state`, to its `Set/MainsMeter` message at
   a plain client on the charger's side (subscribed at QoS 1, as the firmware is). Half a
   second after each, the same cadence through a bare relay process (aiomqtt on asyncio, a
   prepared `L1:L2:L3` for each state): the floor, two broker hops, in the same run.
2. The longest gap between two feed messages (the meter sends every second; the firmware wants
   one at least every 10 s), beside the longest gap between the bench's own readings, so a slow
   bench is not blamed on the bridge.
3. The meter falls silent, with the fake SmartEVSE (`FakeSmartEvse`, in real time, Smart mode,
   a car plugged and charging): from the last reading to the last feed message (that reading's
   own latency: nothing is repeated from memory), and to the charger stopping with
   `Communication Error` (the firmware's 11 s).
4. EV start -> battery hold: the car starts charging at a random moment of the meter's second;
   through the charger's signal (charger -> bridge -> `ChargerState` charging -> controller ->
   `{"hold": true}` on `wattbus/zendure/set`) and through the threshold (the meter at 11 kW ->
   the controller's default 5000 W, confirmed for 3 s -> hold).

    uv run python bench/smartevse.py [--readings 1000] [--rounds 5] [--seed 1]

The default 1000 readings take about 17 minutes (one a second), and the rounds about 3 more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiomqtt
from rich.console import Console
from rich.table import Table
from timing import TARGET_RATIO, Msg, Tape, fmt, ms, observer, percentile, stats_row, verdict
from wattbus.bus import encode
from wattbus.models import BatteryState, MeterState, utcnow
from wattbus.stopping import stop
from wattbus.topics import Topics
from wattbus_controller.ev_guard import CONFIRM, THRESHOLD
from wattbus_simulator.broker import local_broker
from wattbus_simulator.fake_smartevse import (
    COMM_ERROR,
    COMM_TIMEOUT,
    STATE_NAMES,
    FakeSmartEvse,
    Received,
    SmartEvse,
)
from wattbus_simulator.processes import ServiceProcess, bus_env
from wattbus_smartevse.mains import NOMINAL_VOLTAGE, mains_meter
from wattbus_smartevse.service import FEED_QOS  # the floor publishes as the bridge does

SERIAL = "12345"
PREFIX = f"SmartEVSE/{SERIAL}"  # the firmware's default prefix, as the fake uses it
CHARGER = "smartevse"  # the charger's wattbus id
METER = "grid-meter"
BATTERY = "zendure"
MAINS = f"{PREFIX}/Set/MainsMeter"
FLOOR_IN = "floor/meter"
FLOOR_OUT = f"floor/{PREFIX}/Set/MainsMeter"
FLOOR_MAINS = "9:10:6"  # the relay's prepared message: a base load's size
PERIOD = 1.0  # s between readings, as a meter bridge publishes them
FLOOR_PHASE = 0.5  # s after each reading to the bridge, the floor's: the two never overlap
CHARGER_QOS = 1  # the firmware subscribes to `<prefix>/Set/#` at QoS 1
GAP_TARGET = 1.5  # s: the longest gap between two feed messages, with a reading every second
WARMUP = 5  # readings first, not counted (connections opening, first imports)
LOOKAHEAD = 3  # readings a feed message may skip over and still be matched to its own
FED_BEFORE = 3  # readings fed in a round of (3) before the meter falls silent
STOP_LIMIT = 30.0  # s for the charger to stop once the meter is silent (firmware: 11-12 s)
HOLD_LIMIT = 20.0  # s for a hold after an EV start (the threshold path needs 3 to 4)
MIRROR_LIMIT = 1.0  # s after the hold for the bench's copy of the charger's state
SETTLE = 2  # readings after a round's release before the next EV starts
EV_POWER = 11_000.0  # W: a car on three phases at 16 A
RUN_LIMIT = 24 * 3600.0  # s: the longest any background loop of the bench may run
TENTHS = 10  # parts of the run the feed's p50 is shown for, to show a drift
READY = 20.0  # s for a service to connect, or for a round's state to settle
BASE_LOAD = (180.0, 230.0, 120.0)  # W per phase to start from
LOAD_RANGE = (40.0, 900.0)  # W per phase the wandering base load stays within
LOAD_STEP = 15.0  # W: the base load's step per reading (standard deviation)
VOLTAGE_SPREAD = 1.2  # V: a phase's voltage around the nominal (standard deviation)

console = Console(width=None if sys.stdout.isatty() else 130)
Signal = Literal["charger", "threshold"]  # what detects the EV in (4)
SIGNALS: tuple[Signal, ...] = ("charger", "threshold")


# ---- the house and its meter -----------------------------------------------------------------


class House:
    """Three phases with a base load that wanders (seeded), and a car when one charges."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.base = list(BASE_LOAD)
        self.ev = 0.0  # W the car draws, spread over the three phases
        self.imported = 1_234_567.0  # Wh
        self.exported = 345_678.9  # Wh

    def reading(self) -> MeterState:
        """One second's reading, as the Shelly bridge publishes it: every field set."""
        low, high = LOAD_RANGE
        phases = []
        for i, base in enumerate(self.base):
            self.base[i] = min(high, max(low, base + self.rng.gauss(0, LOAD_STEP)))
            power = round(self.base[i] + self.ev / 3, 1)
            volts = round(self.rng.gauss(NOMINAL_VOLTAGE, VOLTAGE_SPREAD), 1)
            phases.append((power, volts, round(power / volts, 3)))
        total = round(sum(p for p, _, _ in phases), 1)
        self.imported += total * PERIOD / 3600
        (p1, v1, i1), (p2, v2, i2), (p3, v3, i3) = phases
        return MeterState(
            ts=utcnow(),
            power=total,
            power_l1=p1,
            power_l2=p2,
            power_l3=p3,
            current_l1=i1,
            current_l2=i2,
            current_l3=i3,
            voltage_l1=v1,
            voltage_l2=v2,
            voltage_l3=v3,
            energy_import=round(self.imported, 2),
            energy_export=self.exported,
        )


@dataclass(frozen=True)
class Reading:
    t: float  # perf_counter just before the publish
    mains: str  # the `Set/MainsMeter` it should become: the bridge's own `mains_meter`


async def until(due: float) -> None:
    await asyncio.sleep(max(0.0, due - time.perf_counter()))


class Meter:
    """The meter bridge's side: readings on `wattbus/grid-meter/state` (retained, QoS 0, as
    the Shelly bridge publishes them), and the floor's copies on their own topic."""

    def __init__(self, client: aiomqtt.Client, house: House) -> None:
        self.client = client
        self.house = house
        self.topic = Topics().state(METER)
        self.sent: Tape[Reading] = Tape()
        self.floor: list[float] = []  # perf_counter of each floor publish
        self._payload = b""  # the last reading as published
        self._on = asyncio.Event()
        self._quiet = asyncio.Event()

    async def publish(self) -> Reading:
        state = self.house.reading()
        # what the bridge makes of it with its default settings (3 phases, 3 fields)
        mains = mains_meter(state, phases=3, voltage=NOMINAL_VOLTAGE).payload(five_fields=False)
        self._payload = encode(state)
        reading = Reading(time.perf_counter(), mains)
        await self.client.publish(self.topic, self._payload, retain=True)
        self.sent.add(reading)
        return reading

    async def publish_floor(self) -> None:
        """The last reading again, to the floor's relay: the same size."""
        self.floor.append(time.perf_counter())
        await self.client.publish(FLOOR_IN, self._payload)

    async def run(self) -> None:
        """Once a second while on; `silence()` and `resume()` switch it."""
        due = time.perf_counter()
        for _ in range(int(RUN_LIMIT / PERIOD)):
            if not self._on.is_set():
                self._quiet.set()
                await self._on.wait()
                due = time.perf_counter()
            await self.publish()
            due += PERIOD
            await until(due)

    def resume(self) -> None:
        self._quiet.clear()
        self._on.set()

    async def silence(self) -> Reading:
        """Stops before the next reading is due; the last reading sent."""
        self._on.clear()
        await self._quiet.wait()
        return self.sent.items[-1]


# ---- the charger, the battery and the floor ------------------------------------------------------


@dataclass(frozen=True)
class Fed:
    t: float  # perf_counter when the fake's firmware took it
    payload: str


@dataclass(frozen=True)
class Change:
    t: float
    state_id: str  # the firmware's StateID: C is charging
    comm_error: bool


@dataclass
class TimedEvse(SmartEvse):
    """The fake's firmware, stamping each `MainsMeter` it takes and each change of its state.
    (The fake belongs to the bench, not to the code under test.)"""

    fed: Tape[Fed] = field(default_factory=Tape)
    changes: Tape[Change] = field(default_factory=Tape)

    def handle(self, topic: str, payload: str) -> Received:
        t = time.perf_counter()
        record = super().handle(topic, payload)
        if topic == "MainsMeter" and record.applied:
            self.fed.add(Fed(t, payload))
        self._note(t)
        return record

    def tick(self) -> bool:
        due = super().tick()
        self._note(time.perf_counter())
        return due

    def plug(self, plugged: bool) -> None:
        super().plug(plugged)
        self._note(time.perf_counter())

    def charging(self) -> bool:
        return self.state_id == "C"

    def _note(self, t: float) -> None:
        last = self.changes.items[-1] if self.changes.items else None
        if last is None or (last.state_id, last.comm_error) != (self.state_id, self.comm_error):
            self.changes.add(Change(t, self.state_id, self.comm_error))


# The floor of (1): the two broker hops with nothing between them but a relay on the same
# libraries as the services (aiomqtt on asyncio): a reading in, a prepared message out.
RELAY_FEED = """
import asyncio, sys
import aiomqtt
async def main(port: int, qos: int) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier="floor-feed") as c:
        await c.subscribe(sys.argv[3])
        await c.publish("floor/ready", b"1")
        async for _ in c.messages:
            await c.publish(sys.argv[4], sys.argv[5].encode(), qos=qos)
asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""


@contextlib.asynccontextmanager
async def relay(port: int) -> AsyncIterator[None]:
    async with observer(port, "floor-ready", "floor/ready") as ready:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", RELAY_FEED, str(port), str(FEED_QOS), FLOOR_IN, FLOOR_OUT,
            FLOOR_MAINS,
        )  # fmt: skip
        try:
            await ready.wait(lambda _m: True, 0, READY)
            yield
        finally:
            proc.terminate()
            await proc.wait()


class Battery:
    """A stand-in for the Zendure bridge, under its topics: online, a battery at rest, and
    each command answered with a state that shows it (so the controller's releases settle).
    Figure (4) ends at the command, so there is no device behind it."""

    def __init__(self, client: aiomqtt.Client, commands: Tape[Msg]) -> None:
        self.client = client
        self.commands = commands
        self.topics = Topics()

    def state(self, hold: bool) -> bytes:
        battery = BatteryState(
            ts=utcnow(),
            soc=62.0,
            power=0.0,
            output_home_power=0.0,
            grid_input_power=0.0,
            min_soc=100.0 if hold else 10.0,
            soc_set=100.0,
            output_limit=800.0,
            input_limit=1200.0,
            mode="output",
            hold=hold,
        )
        return encode(battery)

    async def run(self) -> None:
        t = self.topics
        await self.client.publish(t.availability(BATTERY), b"online", qos=1, retain=True)
        await self.client.publish(t.state(BATTERY), self.state(False), retain=True)
        for i in range(int(RUN_LIMIT)):  # at most a command a second
            m = await self.commands.wait(lambda _m: True, i, limit=RUN_LIMIT)
            hold = m.json().get("hold")
            if isinstance(hold, bool):
                await self.client.publish(t.state(BATTERY), self.state(hold), retain=True)


# ---- (1) and (2): the feed ---------------------------------------------------------------------


@dataclass
class Feed:
    latency: list[float]  # s, per fed reading after the warm-up
    floor: list[float]  # s, per floor reading after the warm-up
    readings: int
    not_fed: int  # readings no message carried
    unexpected: int  # messages that carried no reading of theirs
    floor_lost: int  # floor readings with no answer before the next one
    feed_gap: float  # s, the longest between two feed messages
    publish_gap: float  # s, the longest between two readings the bench sent


def match(sent: list[Reading], got: list[Msg]) -> tuple[dict[int, float], int]:
    """Each fed reading's latency by its index: a message belongs to the first reading at or
    after the cursor (within LOOKAHEAD, published before it arrived) whose payload it carries,
    and the readings passed over were not fed. Also how many messages belonged to none."""
    out: dict[int, float] = {}
    cursor = unexpected = 0
    for m in got:
        text = m.payload.decode(errors="replace")
        ahead = range(cursor, min(cursor + LOOKAHEAD + 1, len(sent)))
        k = next((k for k in ahead if sent[k].mains == text and sent[k].t < m.t), None)
        if k is None:
            unexpected += 1
            continue
        out[k] = m.t - sent[k].t
        cursor = k + 1
    return out, unexpected


def answers(sent: list[float], got: list[float]) -> dict[int, float]:
    """The floor's: each reading's answer is the first message after it and before the next
    reading (the relay takes a few ms; readings come a second apart)."""
    out: dict[int, float] = {}
    j = 0
    for k, t in enumerate(sent):
        nxt = sent[k + 1] if k + 1 < len(sent) else math.inf
        while j < len(got) and got[j] <= t:
            j += 1
        if j < len(got) and got[j] < nxt:
            out[k] = got[j] - t
    return out


def longest_gap(times: list[float]) -> float:
    return max((b - a for a, b in itertools.pairwise(times)), default=math.nan)


async def feed_run(meter: Meter, charger_side: Tape[Msg], readings: int) -> Feed:
    """`readings` to the bridge (after WARMUP more), each followed half a period later by one
    to the floor's relay; then each message matched to the reading it carries."""
    mark, first, floor_first = charger_side.mark(), meter.sent.mark(), len(meter.floor)
    start = time.perf_counter()
    for i in range(WARMUP + readings):
        due = start + i * PERIOD
        await until(due)
        await meter.publish()
        await until(due + FLOOR_PHASE)
        await meter.publish_floor()
        if i >= WARMUP and (i + 1 - WARMUP) % 200 == 0:
            console.print(f"  readings: {i + 1 - WARMUP}/{readings}", style="dim")
    await asyncio.sleep(PERIOD)  # the last messages arrive (a reading may wait up to 1 s)
    sent = meter.sent.items[first:]
    got = [m for m in charger_side.items[mark:] if m.topic == MAINS]
    fed, unexpected = match(sent, got)
    floor_sent = meter.floor[floor_first:]
    floor = answers(floor_sent, [m.t for m in charger_side.items[mark:] if m.topic == FLOOR_OUT])
    counted = range(WARMUP, len(sent))
    measured_from = sent[WARMUP].t
    return Feed(
        latency=[fed[k] for k in counted if k in fed],
        floor=[floor[k] for k in counted if k in floor],
        readings=readings,
        not_fed=sum(k not in fed for k in counted),
        unexpected=unexpected,
        floor_lost=sum(k not in floor for k in counted),
        feed_gap=longest_gap([m.t for m in got if m.t > measured_from]),
        publish_gap=longest_gap([r.t for r in sent[WARMUP:]]),
    )


# ---- (3): the meter falls silent -------------------------------------------------------------


@dataclass(frozen=True)
class Silence:
    to_last_feed: float  # s, the last reading's publish -> its message at the charger
    to_stop: float  # s, the last reading's publish -> the charger stops
    feed_to_stop: float  # s, the last message -> the stop: the firmware's own count
    repeated: int  # messages the charger took after the last reading's, up to the stop
    state: str  # the charger's State and Error when it stopped


async def until_charging(evse: TimedEvse, after: int) -> None:
    """Charging without an error, now or at a change after `after`."""
    if not (evse.charging() and not evse.comm_error):
        await evse.changes.wait(lambda c: c.state_id == "C" and not c.comm_error, after, READY)


async def silence_round(meter: Meter, evse: TimedEvse) -> Silence:
    fed_mark, change_mark = evse.fed.mark(), evse.changes.mark()
    meter.resume()
    await until_charging(evse, change_mark)
    await evse.fed.wait(lambda _f: True, fed_mark + FED_BEFORE - 1, READY)  # fed a while
    last = await meter.silence()
    change_mark = evse.changes.mark()
    fed = await evse.fed.wait(lambda f: f.t > last.t and f.payload == last.mains, fed_mark)
    stopped = await evse.changes.wait(
        lambda c: c.state_id != "C" and c.comm_error, change_mark, STOP_LIMIT
    )
    repeated = sum(fed.t < f.t <= stopped.t for f in evse.fed.items[fed_mark:])
    state = f"{STATE_NAMES[stopped.state_id]}, {COMM_ERROR}"
    return Silence(fed.t - last.t, stopped.t - last.t, stopped.t - fed.t, repeated, state)


# ---- (4): EV start -> battery hold -------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    to_hold: float  # s, the car starts -> `{"hold": true}` at the battery
    to_signal: float  # s, the car starts -> ChargerState charging, or the first reading above
    signal: str  # what the controller said it went by when it declared charging


class Home:
    """The charger, the battery and what (4) watches on the bus."""

    def __init__(
        self,
        port: int,
        workdir: Path,
        meter: Meter,
        fake: FakeSmartEvse,
        battery: Tape[Msg],
        seen: Tape[Msg],
    ) -> None:
        self.port, self.workdir = port, workdir
        self.meter, self.fake = meter, fake
        self.battery, self.seen = battery, seen
        self.topics = Topics()

    def controller(self, signal: Signal) -> ServiceProcess:
        """With its defaults for the detection (THRESHOLD, CONFIRM); the release at once, so a
        round ends when the car stops (it plays no part in the start)."""
        state = Path(tempfile.mkdtemp(prefix=f"controller-{signal}-", dir=self.workdir))
        env = bus_env(self.port) | {
            "WATTBUS_CONTROLLER_METER": METER,
            "WATTBUS_CONTROLLER_BATTERIES": BATTERY,
            "WATTBUS_CONTROLLER_RELEASE": "0",
            "WATTBUS_CONTROLLER_STATE_DIR": str(state),
        }
        if signal == "charger":
            env["WATTBUS_CONTROLLER_CHARGER"] = CHARGER
        return ServiceProcess("controller", env, state)

    def _controller_state(self, pred: Callable[[dict[str, object]], bool]) -> Callable[[Msg], bool]:
        topic = self.topics.state("controller")
        return lambda m: m.topic == topic and bool(m.payload) and pred(m.json())

    def _command(self, hold: bool) -> Callable[[Msg], bool]:
        return lambda m: m.json().get("hold") is hold

    async def starts(self, signal: Signal, rounds: int, rng: random.Random) -> list[Start]:
        async with running(self.controller(signal), self.seen, "controller"):
            await self.seen.wait(self._controller_state(lambda _s: True), self.seen.mark(), READY)
            return [await self._round(signal, rng) for _ in range(rounds)]

    async def _round(self, signal: Signal, rng: random.Random) -> Start:
        sent = self.meter.sent
        await sent.wait(lambda _r: True, sent.mark() + SETTLE - 1, READY)  # quiet a while
        await sent.wait(lambda _r: True, sent.mark(), READY)  # a reading has just gone
        await asyncio.sleep(rng.uniform(0, PERIOD))  # the car starts somewhere in the second
        seen_mark, cmd_mark, reading_mark = self.seen.mark(), self.battery.mark(), sent.mark()
        t0 = time.perf_counter()
        self.meter.house.ev = EV_POWER
        if signal == "charger":
            await self.fake.plug(True)
        hold = await self.battery.wait(self._command(True), cmd_mark, HOLD_LIMIT)
        declared = await self.seen.wait(
            self._controller_state(lambda s: s.get("ev_charging") is True), seen_mark
        )
        if signal == "charger":
            topic = self.topics.state(CHARGER)
            try:  # the bench's copy comes with the controller's, give or take the fan-out
                mirrored = await self.seen.wait(
                    lambda m: m.topic == topic and m.json().get("charging") is True,
                    seen_mark,
                    MIRROR_LIMIT,
                )
                to_signal = mirrored.t - t0
            except TimeoutError:  # a hold without it: the controller went by something else
                to_signal = math.nan
        else:
            to_signal = sent.items[reading_mark].t - t0
        # the car stops: back to idle, and the release
        cmd_mark = self.battery.mark()
        self.meter.house.ev = 0.0
        if signal == "charger":
            await self.fake.plug(False)
        await self.battery.wait(self._command(False), cmd_mark, HOLD_LIMIT)
        return Start(hold.t - t0, to_signal, str(declared.json().get("signal")))


@contextlib.asynccontextmanager
async def running(service: ServiceProcess, seen: Tape[Msg], device: str) -> AsyncIterator[None]:
    """A service as a process, from when `device` says `online`; stopped at the end, also on
    failure. When the bench times out on anything meanwhile, the end of its log is shown."""
    mark = seen.mark()
    service.start()
    try:
        await seen.wait(online(device), mark, READY)
        yield
    except TimeoutError:
        console.print(f"[red]timed out; {service.log} ends:[/red]")
        console.print(tail(service.log), markup=False, highlight=False)
        raise
    finally:
        service.stop()


@contextlib.asynccontextmanager
async def background(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    task = asyncio.create_task(work)
    try:
        yield
    finally:
        await stop(task)


def online(device: str) -> Callable[[Msg], bool]:
    topic = Topics().availability(device)
    return lambda m: m.topic == topic and m.payload == b"online"


def tail(log: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text().splitlines()[-lines:])
    return ""


# ---- report ----------------------------------------------------------------------------------


def print_feed(feed: Feed) -> None:
    table = Table(
        title="(1) Feed latency (ms), one clock in the bench process", title_justify="left"
    )
    for col in ("path", "n", "p50", "p90", "p99", "max", "target"):
        table.add_column(col, justify="left" if col in ("path", "target") else "right")
    target = f"p99 <= {TARGET_RATIO:g}x the floor's: {verdict(feed.latency, feed.floor)}"
    table.add_row(
        "meter state -> Set/MainsMeter at the charger's side (the bridge)",
        str(len(feed.latency)),
        *stats_row(ms(feed.latency)),
        target,
    )
    table.add_row(
        "floor: the same two hops through a bare relay",
        str(len(feed.floor)),
        *stats_row(ms(feed.floor)),
        "",
    )
    console.print(table)
    n = len(feed.latency)
    if n >= TENTHS:
        parts = [feed.latency[i * n // TENTHS : (i + 1) * n // TENTHS] for i in range(TENTHS)]
        p50s = " ".join(fmt(percentile(ms(part), 50)) for part in parts)
        console.print(f"the feed's p50 in each tenth of the run, ms: {p50s}", highlight=False)
    ok = feed.not_fed == feed.unexpected == feed.floor_lost == 0
    console.print(
        f"{'checked' if ok else '[red]NOT as expected[/red]'}: "
        f"{feed.readings - feed.not_fed} of {feed.readings} readings fed, each by a message "
        f"with its own mains (the bridge's `mains_meter` of it), {feed.not_fed} passed over; "
        f"{feed.unexpected} messages carried no reading's; the floor answered "
        f"{feed.readings - feed.floor_lost} of {feed.readings}",
        highlight=False,
    )
    table = Table(title="(2) Longest gap (s), a reading every second", title_justify="left")
    for col in ("between", "s", "target"):
        table.add_column(col, justify="right" if col == "s" else "left")
    met = feed.feed_gap < GAP_TARGET
    table.add_row(
        "two feed messages at the charger's side",
        f"{feed.feed_gap:.3f}",
        f"< {GAP_TARGET:g}: " + ("[green]met[/green]" if met else "[red]missed[/red]"),
    )
    table.add_row("two readings the bench sent (the publisher)", f"{feed.publish_gap:.3f}", "")
    console.print(table)


def print_silences(silences: list[Silence]) -> None:
    table = Table(
        title="(3) The meter falls silent after a reading: the fake charger, Smart mode, a car "
        "charging",
        title_justify="left",
    )
    for col in (
        "round",
        "reading -> its feed, ms",
        "reading -> stop, s",
        "feed -> stop, s",
        "fed after it",
        "the charger then",
    ):
        table.add_column(col, justify="left" if col == "the charger then" else "right")
    for i, s in enumerate(silences, start=1):
        table.add_row(
            str(i), f"{s.to_last_feed * 1000:.2f}", f"{s.to_stop:.2f}", f"{s.feed_to_stop:.2f}",
            str(s.repeated), s.state,
        )  # fmt: skip
    console.print(table)
    console.print(
        f"the firmware stops {COMM_TIMEOUT} to {COMM_TIMEOUT + 1} s after the last feed: "
        f"{COMM_TIMEOUT} ticks of its 1 s task count the mains timeout down, the next one "
        f"sets `{COMM_ERROR}`",
        highlight=False,
    )


def print_starts(starts: dict[Signal, list[Start]]) -> None:
    table = Table(
        title='(4) EV start -> {"hold": true} at the battery (s), the start at a random '
        "moment of the meter's second",
        title_justify="left",
    )
    for col in ("detected by", "rounds", "p50", "max", "leg", "leg p50", "leg max"):
        table.add_column(col, justify="left" if col in ("detected by", "leg") else "right")
    legs = {
        "charger": "start -> ChargerState charging on the bus",
        "threshold": "start -> the first reading above",
    }
    rows = {
        "charger": "the charger's signal (bridge -> ChargerState -> controller)",
        "threshold": f"the threshold ({THRESHOLD:.0f} W, confirm {CONFIRM:g} s)",
    }
    for signal, rounds in starts.items():
        hold = [s.to_hold for s in rounds]
        leg = [s.to_signal for s in rounds]
        table.add_row(
            rows[signal], str(len(rounds)),
            f"{percentile(hold, 50):.3f}", f"{percentile(hold, 100):.3f}",
            legs[signal], f"{percentile(leg, 50):.3f}", f"{percentile(leg, 100):.3f}",
        )  # fmt: skip
    console.print(table)
    said = {signal: sorted({s.signal for s in rounds}) for signal, rounds in starts.items()}
    ok = all(words == [signal] for signal, words in said.items())
    console.print(
        f"{'checked' if ok else '[red]NOT as expected[/red]'}: the controller said it went by "
        + ", ".join(f"{'/'.join(words)} ({signal} rounds)" for signal, words in said.items()),
        highlight=False,
    )


# ---- main ------------------------------------------------------------------------------------


def bridge(port: int, workdir: Path) -> ServiceProcess:
    env = bus_env(port) | {
        "WATTBUS_SMARTEVSE_PREFIX": PREFIX,
        "WATTBUS_SMARTEVSE_ID": CHARGER,
        "WATTBUS_SMARTEVSE_METER": METER,
        "WATTBUS_SMARTEVSE_STATE_DIR": str(workdir / "smartevse-state"),
    }
    return ServiceProcess("smartevse", env, workdir)


@contextlib.asynccontextmanager
async def charger_side(port: int) -> AsyncIterator[Tape[Msg]]:
    """The charger of (1): subscribed as the firmware is, and connected as it says on connect
    (`<prefix>/connected` = `online`, retained), which the bridge's availability follows."""
    async with (
        observer(port, "charger-side", MAINS, FLOOR_OUT, qos=CHARGER_QOS) as tape,
        aiomqtt.Client("127.0.0.1", port, identifier="bench-charger-connected") as client,
    ):
        await client.publish(f"{PREFIX}/connected", b"online", retain=True)
        yield tape


@contextlib.asynccontextmanager
async def charger(port: int) -> AsyncIterator[tuple[FakeSmartEvse, TimedEvse]]:
    """The fake SmartEVSE in real time: its 1 s task runs as the firmware's does."""
    evse = TimedEvse(mode="Smart")
    fake = FakeSmartEvse(port, serial=SERIAL, evse=evse)
    await fake.start()
    try:
        async with background(fake.run()):
            yield fake, evse
    finally:
        await fake.stop()


async def silent_rounds(
    meter: Meter, fake: FakeSmartEvse, evse: TimedEvse, rounds: int
) -> list[Silence]:
    await fake.plug(True)
    out = [await silence_round(meter, evse) for _ in range(rounds)]
    meter.resume()
    await fake.plug(False)
    return out


async def main(readings: int, rounds: int, seed: int) -> None:
    console.print(
        f"[bold]wattbus smartevse[/bold]: {readings} readings (+{WARMUP} warm-up) one a "
        f"second, {rounds} rounds of (3) and of each path of (4); {os.cpu_count()} CPUs",
        highlight=False,
    )
    started = time.monotonic()
    rng = random.Random(seed)
    t = Topics()
    watched = (t.availability(CHARGER), t.state(CHARGER), t.availability("controller"))
    with tempfile.TemporaryDirectory(prefix="wattbus-bench-") as tmp:
        workdir = Path(tmp)
        async with local_broker() as (port, kind):
            console.print(f"broker: {kind} on 127.0.0.1:{port}", highlight=False)
            async with (
                charger_side(port) as side,
                observer(port, "seen", *watched, t.state("controller")) as seen,
                observer(port, "battery", t.set(BATTERY)) as commands,
                aiomqtt.Client("127.0.0.1", port, identifier="bench-meter") as client,
                running(bridge(port, workdir), seen, CHARGER),
            ):
                meter = Meter(client, House(rng))
                async with relay(port):
                    feed = await feed_run(meter, side, readings)
                async with charger(port) as (fake, evse), background(meter.run()):
                    silences = await silent_rounds(meter, fake, evse, rounds)
                    async with background(Battery(client, commands).run()):
                        home = Home(port, workdir, meter, fake, commands, seen)
                        starts = {s: await home.starts(s, rounds, rng) for s in SIGNALS}
    console.print(f"took {time.monotonic() - started:.0f} s", highlight=False)
    print_feed(feed)
    print_silences(silences)
    print_starts(starts)


def cli() -> None:
    parser = argparse.ArgumentParser(
        description="SmartEVSE feed: latency, gaps, a silent meter, EV start -> battery hold.",
        epilog="The default 1000 readings take about 17 minutes (one a second), the rounds "
        "about 3 more; `make bench` runs 200 readings and 3 rounds.",
    )
    parser.add_argument(
        "--readings", type=int, default=1000, help="meter readings for (1) and (2), one a second"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds of (3) and of each path of (4)"
    )
    parser.add_argument("--seed", type=int, default=1, help="the house's load and the EV starts")
    args = parser.parse_args()
    if args.readings < 2 or args.rounds < 1:
        parser.error("--readings must be at least 2 and --rounds at least 1")
    asyncio.run(main(args.readings, args.rounds, args.seed))


if __name__ == "__main__":
    cli()
