"""The NRGKICK, SolarEdge and Kasa bridges: how long each takes from a command or a change at the
device to its answer on the bus, against the floor measured in the same run, and each bridge's
peak resident set.

Each bridge runs as a real process (`wattbus run <name>`, as in its container) against its fake
in this process, through a private Mosquitto; one clock (`time.perf_counter`) stamps each
publish, each request at a fake and each arrival.

- NRGKICK (Gen2 API, polled every 1 s): `set` with a current, then a pause, then a resume, to
  its `applied` event (the write, then `/values` and `/control` read back). Floor: one bare
  `GET /control` with httpx, the bridge's client library, plus one broker hop. Then the state's
  freshness: the fake's session energy moves at a random moment of the poll's second, to the
  state that shows it, and the age of each state (its `ts`, the poll's start) when it lands.
- SolarEdge (meter, battery and inverter over one Modbus connection, polled every 1 s): the
  fake's meter power changes as the meter block's request arrives, to the `MeterState` that
  shows it. Floor: one read of the same block with pymodbus (from a second fake: the inverter
  serves one client) plus one broker hop. Then the Modbus requests per poll cycle and whether
  each scale factor came in the request that carried its value.
- Kasa (legacy protocol, polled every 1 s): `{"on": true}` and `{"on": false}` to `applied`
  (switched, then read back). Floor: one python-kasa `update()` of the bench's own against the
  same fake, plus one broker hop. Then the poll's own duration: the fake's load moves at a
  random moment, and each state's age (its `ts`, the poll's start) when it lands.

    uv run python bench/devices.py [--commands 200] [--polls 10] [--gap 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
from kasa import Device, DeviceConfig
from memory import bytecode_env, import_floor, run_imports, status_kb
from pymodbus.client import AsyncModbusTcpClient
from rich.console import Console
from rich.table import Table
from timing import Msg, Tape, ms, observer, percentile, stats_row
from wattbus.topics import Topics
from wattbus_simulator.broker import local_broker
from wattbus_simulator.fake_kasa import KasaPlugState, start_fake_kasa
from wattbus_simulator.fake_nrgkick import NrgkickState, start_fake_nrgkick
from wattbus_simulator.fake_solaredge import METER, METER_COUNT, UNIT, FakeSolarEdge, Readings
from wattbus_simulator.processes import ServiceProcess, bus_env

HOP = "bench/hop"
READY = 30.0  # s for a bridge to start and first read its device
POLL = "1"  # s between a bridge's reads: the least each bridge allows
WARMUP = 3  # commands first, not counted
POLL_WARMUP = 1  # SolarEdge polls first, not counted: one a second
STATE_LIMIT = 5.0  # s for a change at a device to show on the bus (a poll comes every 1 s)
METER_ID = "solaredge-meter"
POWER_AT, POWER_SF_AT = 40206, 40210  # the meter's total power and its scale factor
# where a value and its scale factor sit, as the bridge decodes them
SCALED = {"meter power": (POWER_AT, POWER_SF_AT), "inverter AC power": (40083, 40084),
          "inverter energy": (40093, 40095), "inverter DC power": (40100, 40101)}  # fmt: skip

t = Topics()
console = Console(width=None if sys.stdout.isatty() else 120)


@dataclass
class Figures:
    """One bridge's rows, in ms unless a row says otherwise, and what else it printed."""

    title: str
    rows: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    peak_mib: float = 0.0
    imports_mib: float = 0.0  # an interpreter that imports the bridge's service and stops


@dataclass
class Bench:
    port: int
    tape: Tape[Msg]
    client: aiomqtt.Client
    workdir: Path
    python_env: dict[str, str]
    gap: float
    warm_up: bool  # start each bridge once before, for the image's peak (see `bridge`)

    @contextlib.asynccontextmanager
    async def bridge(self, name: str, device: str, env: dict[str, str]) -> AsyncIterator[int]:
        """The bridge as a process from when it has sent its first state; yields its pid and
        stops it at the end, also on failure. It is run once before, to its first state: what
        it loads (at start and at the first poll) then finds its bytecode in the bench's
        cache, as in the image, so its peak is not the compiler's."""
        service = ServiceProcess(
            name, self.python_env | bus_env(self.port) | env | {"WATTBUS_DISCOVERY": "false"},
            self.workdir,
        )  # fmt: skip
        for warm_up in (True, False) if self.warm_up else (False,):
            mark = self.tape.mark()
            service.start()
            try:
                await self._first_state(service, device, mark)
                if not warm_up:
                    yield service.pid
            finally:
                service.stop()

    async def _first_state(self, service: ServiceProcess, device: str, mark: int) -> None:
        topic, state = t.availability(device), t.state(device)
        try:
            await self.tape.wait(lambda m: m.topic == topic and m.payload == b"online",
                                 mark, READY)  # fmt: skip
            await self.tape.wait(lambda m: m.topic == state, mark)
        except TimeoutError:
            console.print(service.log.read_text()[-2000:], markup=False, highlight=False)
            raise

    async def command(self, device: str, body: dict[str, Any], i: int) -> float:
        """`body` on the device's `set` (QoS 1, as a controller sends it) to its answer."""
        mark = self.tape.mark()
        event = t.event(device)
        t0 = time.perf_counter()
        await self.client.publish(t.set(device), json.dumps(body | {"id": i}), qos=1)
        answer = await self.tape.wait(lambda m: m.topic == event and m.json().get("id") == i, mark)
        assert answer.json()["kind"] == "applied", answer.payload
        return answer.t - t0

    def state_size(self, device: str) -> int:
        """Bytes of the device's last state seen: what a hop of the floor carries."""
        topic = t.state(device)
        return next(len(m.payload) for m in reversed(self.tape.items) if m.topic == topic)

    async def hop(self, size: int) -> float:
        """One publish of `size` bytes and its delivery to the bench's observer."""
        mark = self.tape.mark()
        t0 = time.perf_counter()
        await self.client.publish(HOP, b"x" * size, qos=0)
        got = await self.tape.wait(lambda m: m.topic == HOP, mark)
        return got.t - t0

    async def changes(
        self, device: str, polls: int, change: Callable[[int], Callable[[Any], bool]]
    ) -> tuple[list[float], list[float]]:
        """`polls` times, at a random moment of the poll's second, `change(i)` changes the fake
        and says which state shows it: the time from the change to that state, and the state's
        age (now less its `ts`, the poll's start) as it lands."""
        topic = t.state(device)
        to_state, ages = [], []
        rng = random.Random(1)
        for i in range(polls):
            await asyncio.sleep(rng.uniform(0, 1))
            mark = self.tape.mark()
            shows = change(i)
            t0 = time.perf_counter()
            got = await self.tape.wait(state_showing(topic, shows), mark, STATE_LIMIT)
            now = time.time()
            to_state.append(got.t - t0)
            ts = datetime.fromisoformat(got.json()["ts"]).timestamp()
            ages.append(now - (time.perf_counter() - got.t) - ts)
        return to_state, ages


def state_showing(topic: str, shows: Callable[[Any], bool]) -> Callable[[Msg], bool]:
    return lambda m: m.topic == topic and shows(m.json())


def mib(pid: int) -> float:
    return status_kb(pid, "VmHWM") / 1024


# ---- NRGKICK ---------------------------------------------------------------------------------


async def nrgkick(bench: Bench, commands: int, polls: int) -> Figures:
    state = NrgkickState(plugged=True)
    fake = await start_fake_nrgkick(state)
    figures = Figures("NRGKICK (Gen2 API)")
    try:
        env = {"WATTBUS_NRGKICK_HOST": f"127.0.0.1:{fake.port}",
               "WATTBUS_NRGKICK_POLL_INTERVAL": POLL}  # fmt: skip
        async with (
            bench.bridge("nrgkick", "nrgkick", env) as pid,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{fake.port}") as http,
        ):
            kinds = ("current", "pause", "resume")
            took: dict[str, list[float]] = {k: [] for k in kinds}
            http_rt, hops = [], []
            size = bench.state_size("nrgkick")
            for i in range(WARMUP + commands):
                kind = kinds[i % 3]
                body: dict[str, Any] = {"mode": "pause" if kind == "pause" else "normal"}
                if kind == "current":
                    body = {"current": 6 + i % 11}
                await asyncio.sleep(bench.gap)
                latency = await bench.command("nrgkick", body, i)
                await asyncio.sleep(bench.gap)
                t0 = time.perf_counter()
                (await http.get("/control")).json()
                rt = time.perf_counter() - t0
                hop = await bench.hop(size)
                if i >= WARMUP:
                    took[kind].append(latency)
                    http_rt.append(rt)
                    hops.append(hop)

            def more_energy(i: int) -> Callable[[Any], bool]:
                state.session_energy += 10.0
                wanted = state.session_energy
                return lambda s: s.get("session_energy") == wanted

            to_state, ages = await bench.changes("nrgkick", polls, more_energy)
            figures.peak_mib = mib(pid)
    finally:
        await fake.close()
    floor = [a + b for a, b in zip(http_rt, hops, strict=True)]
    everything = [x for k in kinds for x in took[k]]
    figures.rows = {
        "set -> applied, all": ms(everything),
        "... current (write, then /values + /control)": ms(took["current"]),
        "... pause": ms(took["pause"]),
        "... resume": ms(took["resume"]),
        "bare GET /control with httpx": ms(http_rt),
        "broker hop (a state's size)": ms(hops),
        "floor (HTTP + hop)": ms(floor),
        "freshness: energy moves at the charger -> state on the bus": ms(to_state),
        "state's age as it lands (its ts -> the bench)": ms(ages),
    }
    figures.notes.append(ratio("set -> applied", everything, floor))
    figures.notes.append(
        f"freshness over {len(to_state)} changes at random moments: polled every {POLL} s, "
        f"so the wait for the next poll is most of it"
    )
    return figures


def ratio(what: str, values: list[float], floor: list[float]) -> str:
    r50 = percentile(values, 50) / percentile(floor, 50)
    r99 = percentile(values, 99) / percentile(floor, 99)
    return f"{what}: p50 {r50:.2f}x, p99 {r99:.2f}x the floor's"


# ---- SolarEdge -------------------------------------------------------------------------------


class MeterChange:
    """Arms a change of the fake's meter power, made as the bridge's next request for the
    meter block arrives: the change is there for that read, with no wait for the poll."""

    def __init__(self, fake: FakeSolarEdge) -> None:
        self.fake = fake
        self.armed: list[float] | None = None
        self.at = 0.0
        self.done = asyncio.Event()
        fake.on_read = self._on_read

    def arm(self, powers: list[float]) -> None:
        self.armed = powers
        self.done.clear()

    def _on_read(self, address: int, count: int) -> None:
        if self.armed is not None and address == METER and count == METER_COUNT:
            self.fake.readings.grid_power = self.armed
            self.at = time.perf_counter()
            self.armed = None
            self.done.set()


async def solaredge(bench: Bench, polls: int) -> Figures:
    # pymodbus logs a send cancelled at shutdown as an ERROR with a hex dump of the last
    # frames; the bridge silences it likewise
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    fake, second = FakeSolarEdge(), FakeSolarEdge(Readings())
    await fake.start()
    await second.start()
    figures = Figures("SolarEdge (meter, StorEdge battery, inverter on one Modbus connection)")
    modbus = AsyncModbusTcpClient("127.0.0.1", port=second.port, retries=0, reconnect_delay=0)
    try:
        env = {"WATTBUS_SOLAREDGE_HOST": "127.0.0.1", "WATTBUS_SOLAREDGE_PORT": str(fake.port),
               "WATTBUS_SOLAREDGE_POLL_INTERVAL": POLL}  # fmt: skip
        await modbus.connect()
        change = MeterChange(fake)
        topic = t.state(METER_ID)
        async with bench.bridge("solaredge", METER_ID, env) as pid:
            first_read, connected = len(fake.reads), fake.connections
            to_state, reads, hops = [], [], []
            size = 0
            for i in range(POLL_WARMUP + polls):
                total = 1500.0 if i % 2 else 1000.0  # each poll's differs from the last
                change.arm([total - 600.0, 300.0, 300.0])
                mark = bench.tape.mark()
                async with asyncio.timeout(STATE_LIMIT):
                    await change.done.wait()
                got = await bench.tape.wait(state_showing(topic, power_is(total)), mark)
                size = len(got.payload)
                await asyncio.sleep(bench.gap)
                t0 = time.perf_counter()
                answer = await modbus.read_holding_registers(METER, count=METER_COUNT,
                                                             device_id=UNIT)  # fmt: skip
                rt = time.perf_counter() - t0
                assert not answer.isError() and len(answer.registers) == METER_COUNT, answer
                hop = await bench.hop(size)
                if i >= POLL_WARMUP:
                    to_state.append(got.t - change.at)
                    reads.append(rt)
                    hops.append(hop)
            requests = fake.reads[first_read:]
            opened = fake.connections - connected
            figures.peak_mib = mib(pid)
    finally:
        modbus.close()
        await fake.close()
        await second.close()
    floor = [a + b for a, b in zip(reads, hops, strict=True)]
    figures.rows = {
        "meter power changes at the read -> MeterState on the bus": ms(to_state),
        f"bare read of the meter block ({METER_COUNT} registers) with pymodbus": ms(reads),
        f"broker hop ({size} B, a MeterState's size)": ms(hops),
        "floor (Modbus read + hop)": ms(floor),
    }
    figures.notes.append(ratio("change -> MeterState", to_state, floor))
    figures.notes.extend(modbus_notes(fake, requests, opened))
    return figures


def power_is(total: float) -> Callable[[Any], bool]:
    return lambda s: s.get("power") == total


def modbus_notes(fake: FakeSolarEdge, requests: list[tuple[int, int]], opened: int) -> list[str]:
    blocks = Counter(requests)
    cycles = blocks[(METER, METER_COUNT)]
    per_cycle = ", ".join(
        f"{n / cycles:.2f} x {count} at {address}" for (address, count), n in sorted(blocks.items())
    )
    notes = [
        f"Modbus: {len(requests)} requests over {cycles} poll cycles on the connection opened at "
        f"start ({opened} more opened meanwhile), {len(requests) / cycles:.2f} a cycle: "
        f"{per_cycle}"
    ]
    for name, (value, sf) in SCALED.items():
        together = sum(n for (a, c), n in blocks.items() if a <= value and sf < a + c)
        carrying = sum(n for (a, c), n in blocks.items() if a <= value < a + c)
        notes.append(
            f"{name} ({value}) with its scale factor ({sf}) in the same request: "
            f"{together} of the {carrying} requests that carried it"
        )
    notes.append(f"scale factors the fake sent for the meter's power: "
                 f"{sorted(fake.power_scale_factors)}")  # fmt: skip
    return notes


# ---- Kasa ------------------------------------------------------------------------------------


async def kasa(bench: Bench, commands: int, polls: int) -> Figures:
    state = KasaPlugState()
    fake = await start_fake_kasa(state)
    figures = Figures("Kasa (HS110, legacy protocol)")
    own = await Device.connect(config=DeviceConfig(host="127.0.0.1", port_override=fake.port))
    try:
        env = {"WATTBUS_KASA_HOST": "127.0.0.1", "WATTBUS_KASA_PORT": str(fake.port),
               "WATTBUS_KASA_POLL_INTERVAL": POLL}  # fmt: skip
        async with bench.bridge("kasa", "kasa", env) as pid:
            took: dict[bool, list[float]] = {True: [], False: []}
            updates, hops = [], []
            size = bench.state_size("kasa")
            for i in range(WARMUP + commands):
                on = i % 2 == 1
                await asyncio.sleep(bench.gap)
                latency = await bench.command("kasa", {"on": on}, i)
                await asyncio.sleep(bench.gap)
                t0 = time.perf_counter()
                await own.update()
                rt = time.perf_counter() - t0
                hop = await bench.hop(size)
                if i >= WARMUP:
                    took[on].append(latency)
                    updates.append(rt)
                    hops.append(hop)

            def more_load(i: int) -> Callable[[Any], bool]:
                state.relay, state.load = True, 400.0 + i
                wanted = state.load
                return lambda s: s.get("power") == wanted

            to_state, ages = await bench.changes("kasa", polls, more_load)
            queries = len(fake.faults.queries)
            figures.peak_mib = mib(pid)
    finally:
        await own.disconnect()
        await fake.close()
    floor = [a + b for a, b in zip(updates, hops, strict=True)]
    everything = took[True] + took[False]
    figures.rows = {
        '{"on": true} -> applied (switch, then update() read back)': ms(took[True]),
        '{"on": false} -> applied': ms(took[False]),
        "bare update() with python-kasa": ms(updates),
        "broker hop": ms(hops),
        "floor (update() + hop)": ms(floor),
        "load moves at the plug -> state on the bus": ms(to_state),
        "the poll's own duration: state's age as it lands (its ts -> the bench)": ms(ages),
    }
    figures.notes.append(ratio("on/off -> applied", everything, floor))
    figures.notes.append(f"the fake answered {queries} queries in all, the bench's own included")
    return figures


# ---- main ------------------------------------------------------------------------------------


def report(figures: Figures, kind: str) -> None:
    table = Table(title=f"{figures.title}, broker {kind} (ms)", title_justify="left")
    for col in ("", "n", "p50", "p90", "p99", "max"):
        table.add_column(col, justify="right" if col else "left")
    for name, values in figures.rows.items():
        table.add_row(name, str(len(values)), *stats_row(values))
    console.print(table)
    for note in figures.notes:
        console.print(note, highlight=False)
    console.print(
        f"peak RSS (VmHWM) of the bridge: {figures.peak_mib:.1f} MiB; for scale, python "
        f"importing only what `wattbus run` imports for it: {figures.imports_mib:.1f} MiB",
        highlight=False,
    )


async def measure(
    commands: int, polls: int, gap: float, *, warm_up: bool = True
) -> tuple[str, list[Figures]]:
    """The broker's kind and each bridge's figures. Without `warm_up` each bridge starts
    once, so its peak includes compiling what it loads (a test's quick run)."""
    with tempfile.TemporaryDirectory(prefix="wattbus-bench-") as tmp:
        workdir = Path(tmp)
        python_env = bytecode_env(workdir / "pycache")
        async with contextlib.AsyncExitStack() as stack:
            port, kind = await stack.enter_async_context(local_broker())
            tape = await stack.enter_async_context(observer(port, "tape", "wattbus/#", HOP))
            client = await stack.enter_async_context(
                aiomqtt.Client(
                    "127.0.0.1",
                    port,
                    identifier="bench-sender",
                    # as the services: a command sent within the broker's delayed ACK of the
                    # hop before it would otherwise wait for that ACK (Nagle), some 20 ms
                    socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
                )
            )
            bench = Bench(port, tape, client, workdir, python_env, gap, warm_up)
            results = [
                await nrgkick(bench, commands, polls),
                await solaredge(bench, polls),
                await kasa(bench, commands, polls),
            ]
        for figures, name in zip(results, ("nrgkick", "solaredge", "kasa"), strict=True):
            modules = f"{run_imports()}, wattbus_{name}.service"
            figures.imports_mib = import_floor(modules, python_env)
    return kind, results


async def main(commands: int, polls: int, gap: float) -> None:
    started = time.monotonic()
    kind, results = await measure(commands, polls, gap)
    console.print(
        f"{commands} commands, {polls} polls each, {gap * 1000:g} ms of quiet before each step; "
        f"took {time.monotonic() - started:.0f} s",
        highlight=False,
    )
    for figures in results:
        report(figures, kind)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--commands", type=int, default=200, help="NRGKICK's and Kasa's")
    parser.add_argument(
        "--polls", type=int, default=10, help="changes that wait for a poll (one a second)"
    )
    parser.add_argument("--gap", type=float, default=0.02, help="s of quiet before each step")
    args = parser.parse_args()
    if args.commands < 1 or args.polls < 1 or not 0 <= args.gap <= 1:
        parser.error("--commands and --polls must be at least 1, --gap 0 to 1 s")
    asyncio.run(main(args.commands, args.polls, args.gap))


if __name__ == "__main__":
    cli()
