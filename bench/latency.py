"""Latency: from a meter reading on the bus to the battery's `minSoc` write, and what it is made of.

(a) End to end, with the real controller and the real Zendure bridge as processes (`wattbus run`):
    the bench publishes a `MeterState` far above the threshold on `wattbus/grid-meter/state`, the
    controller decides and sends `hold` on `wattbus/zendure/set`, the bridge writes minSoc 1000 to
    the fake Zendure. The fake runs in this process, so one clock (`time.perf_counter`) stamps the
    publish and the write's arrival. Then a reading at the base load: the release, up to the
    restore write. After each transition the bench waits until the bridge has published its new
    state, then `--gap` s more, so every event starts on quiet connections, as a real one does
    (meter data comes once a second). A shorter run without that pause shows what busy
    connections cost.
(b) The broker hop alone: publish -> receive through the same Mosquitto, same payload size,
    back to back and with the same quiet before each as in (a): on this kind of machine (a
    small VM), waking an idle process costs more than the hop itself.
(d) The path's floor: the same two hops and the write, through two bare relays (separate
    processes, aiomqtt on asyncio like the services): one turns a reading into `{"hold": ...}`,
    the other turns that into a prepared POST. What (a) costs above this is wattbus's own work.
(c) The fake's own floor: a bare `POST /properties/write` and `GET /properties/report`, from
    the bridge's client (`SolarFlow`) and from a raw socket (the fake alone).

Then where the time goes, from a shorter run in which the bench also listens on the `set` topic
(kept out of (a): the broker's copy to the bench, and the bench's work on it, would land on the
process that hosts the fake at the very moment the write arrives): when the `set` command shows
on the broker, when the fake sees the bridge's read before its write, the CPU each process
spends per event, what the hold file's fsync costs on this disk. `--profile` adds a cProfile of
both services over the measured events.

    uv run python bench/latency.py [--events 1000] [--gap 0.05] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
from rich.console import Console
from rich.table import Table
from timing import TARGET_RATIO, Msg, Tape, ms, observer, percentile, stats_row, verdict
from wattbus.bus import encode
from wattbus.hold.record import write_atomically
from wattbus.models import MeterState, utcnow
from wattbus.topics import Topics
from wattbus_simulator.broker import local_broker
from wattbus_simulator.fake_zendure import FakeZendure, ZendureState, start_fake_zendure
from wattbus_simulator.processes import ServiceProcess, bus_env
from wattbus_zendure.client import SolarFlow

HIGH = 11_500.0  # W: an EV at 11 kW on top of the base load, far above the 5000 W threshold
LOW = 500.0  # W: the base load alone
HELD_MIN_SOC = 1000  # device units (0.1 %): minSoc 100 %
WARMUP = 20  # events run first and not counted (connections opening, first imports)
GAP = 0.05  # s of quiet after each transition: past Linux's 40 ms delayed ACK
BURST_EVENTS = 1000  # events without any pause, to show what busy connections cost
SPLIT_EVENTS = 200  # events with the bench listening on `set`, to split the path in two
PROFILE_EVENTS = 200
FLOOR_EVENTS = 500  # (d), with the same quiet as (a)
PRE_READ_SLACK = 0.0005  # s the bench's copy of a command may trail the bridge's
READY = 20.0  # s for the services to connect and the bridge to read the fake once
HOP_SAMPLES = 2000
QUIET_HOP_SAMPLES = 300  # with --gap after each: what waking idle processes costs
HTTP_SAMPLES = 1000
FSYNC_SAMPLES = 200
CLK_TCK = os.sysconf("SC_CLK_TCK")
SET_PAYLOAD = b'{"hold":true,"id":"controller-1000","lease":90.0}'  # what the controller sends

console = Console(width=None if sys.stdout.isatty() else 130)


# ---- recording -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    t: float  # perf_counter when the fake took the write body
    properties: dict[str, Any]


@dataclass
class TimedZendure(ZendureState):
    """The fake's state, stamping each write and each report as the fake takes it.
    (The fake belongs to the bench, not to the code under test.)"""

    applied: Tape[Write] = field(default_factory=Tape)
    reports: Tape[float] = field(default_factory=Tape)

    def write(self, body: object) -> str | None:
        t = time.perf_counter()
        reason = super().write(body)
        if reason is None and isinstance(body, dict):
            self.applied.add(Write(t, dict(body["properties"])))
        return reason

    def report(self) -> dict[str, Any]:
        self.reports.add(time.perf_counter())
        return super().report()


# ---- services as processes, optionally under cProfile -----------------------------------------

# Runs `wattbus run NAME` as `python -m wattbus` (or, before there was one, `python -m
# wattbus.cli`) does, with a profiler that SIGUSR1 starts and SIGUSR2 stops and saves, so the
# service's start-up stays out of the profile.
PROFILED_LAUNCH = """
import cProfile, importlib.util, runpy, signal, sys
profile, out = cProfile.Profile(), sys.argv[2]
def on(*_): profile.enable()
def off(*_): profile.disable(); profile.dump_stats(out)
signal.signal(signal.SIGUSR1, on)
signal.signal(signal.SIGUSR2, off)
sys.argv = ["wattbus", "run", sys.argv[1]]
main = "wattbus" if importlib.util.find_spec("wattbus.__main__") else "wattbus.cli"
runpy.run_module(main, run_name="__main__", alter_sys=True)
"""


# (d): the controller's and the bridge's part of the hold path with nothing else, as processes.
RELAY_DECIDE = """
import asyncio, json, sys
import aiomqtt
async def main(port: int) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier="floor-decide") as c:
        await c.subscribe("floor/meter")
        await c.publish("floor/ready/decide", b"1")
        async for m in c.messages:
            hold = json.loads(m.payload)["power"] > 5000
            await c.publish("floor/set", b'{"hold":true}' if hold else b'{"hold":false}', qos=1)
asyncio.run(main(int(sys.argv[1])))
"""
RELAY_WRITE = """
import asyncio, json, sys
import aiomqtt
async def main(port: int, fake_port: int, sn: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fake_port)
    async with aiomqtt.Client("127.0.0.1", port, identifier="floor-write") as c:
        await c.subscribe("floor/set")
        await c.publish("floor/ready/write", b"1")
        async for m in c.messages:
            min_soc = 1000 if json.loads(m.payload)["hold"] else 150
            body = json.dumps({"sn": sn, "properties": {"smartMode": 1, "minSoc": min_soc}})
            writer.write(
                b"POST /properties/write HTTP/1.1\\r\\nHost: fake\\r\\n"
                b"Content-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n%b"
                % (len(body), body.encode())
            )
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\\r\\n")[0])
            await reader.readexactly(length)
asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
"""


async def relay_floor(
    port: int, fake: FakeZendure, state: TimedZendure, events: int, gap: float
) -> list[float]:
    """Meter reading -> minSoc 1000 at the fake through the two relays, after `gap` of quiet."""
    relays = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", RELAY_DECIDE, str(port)),
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", RELAY_WRITE, str(port), str(fake.port), fake.state.sn
        ),
    ]
    out: list[float] = []
    try:
        async with (
            observer(port, "floor-ready", "floor/ready/#") as ready,
            aiomqtt.Client("127.0.0.1", port, identifier="floor-meter") as meter,
        ):
            await ready.wait(lambda m: m.topic.endswith("decide"), 0, READY)
            await ready.wait(lambda m: m.topic.endswith("write"), 0, READY)
            for i in range(WARMUP + events):
                for power, held in ((HIGH, True), (LOW, False)):
                    mark = state.applied.mark()
                    t0 = time.perf_counter()
                    await meter.publish("floor/meter", meter_payload(power))
                    w = await state.applied.wait(is_held if held else is_restored, mark)
                    if held and i >= WARMUP:
                        out.append(w.t - t0)
                    await asyncio.sleep(gap)
    finally:
        for relay in relays:
            relay.terminate()
            await relay.wait()
    return out


def is_held(w: Write) -> bool:
    return bool(w.properties.get("minSoc") == HELD_MIN_SOC)


def is_restored(w: Write) -> bool:
    return bool(w.properties.get("minSoc", HELD_MIN_SOC) != HELD_MIN_SOC)


@dataclass
class Service(ServiceProcess):
    """A `ServiceProcess`; with `stats` set, started under the profiling launcher above."""

    stats: Path | None = None

    def start(self) -> None:
        if self.stats is None:
            super().start()
            return
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
        env.update(self.env)
        env.setdefault("WATTBUS_HEALTH_FILE", str(self.workdir / f"{self.name}.health"))
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", PROFILED_LAUNCH, self.name, str(self.stats)],
                env=env,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def cpu(self) -> float:
        """s of CPU (user + system) the process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def signal(self, sig: signal.Signals) -> None:
        if self.process is not None:
            self.process.send_signal(sig)

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text().splitlines()[-lines:])
        return ""


# ---- the parts -------------------------------------------------------------------------------


def meter_payload(power: float) -> bytes:
    """A reading as the Shelly bridge publishes it: every field set, so the size is real."""
    share = power / 3
    state = MeterState(
        ts=utcnow(),
        power=power,
        power_l1=share,
        power_l2=share,
        power_l3=share,
        current_l1=round(share / 230, 3),
        current_l2=round(share / 230, 3),
        current_l3=round(share / 230, 3),
        voltage_l1=230.1,
        voltage_l2=229.8,
        voltage_l3=230.4,
        energy_import=1_234_567.89,
        energy_export=345_678.9,
    )
    return encode(state)


@dataclass
class Samples:
    hold: list[float] = field(default_factory=list)  # s, meter publish -> minSoc 1000 write
    release: list[float] = field(default_factory=list)  # s, meter publish -> restore write
    hold_to_set: list[float] = field(default_factory=list)  # meter publish -> set seen
    hold_set_to_write: list[float] = field(default_factory=list)  # set seen -> write
    hold_set_to_get: list[float] = field(default_factory=list)  # set seen -> bridge's read
    hold_get_to_write: list[float] = field(default_factory=list)  # bridge's read -> write
    release_to_set: list[float] = field(default_factory=list)
    release_set_to_write: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # s of CPU per event, by process
    commands: dict[bool, int] = field(default_factory=dict)  # commands applied, by `hold`
    writes: dict[bool, int] = field(default_factory=dict)  # minSoc writes: held or restored


class Home:
    """The controller and the Zendure bridge as processes, the fake and the meter in here."""

    def __init__(
        self, port: int, fake: FakeZendure, state: TimedZendure, workdir: Path, profile: bool
    ) -> None:
        self.port = port
        self.state = state
        self.topics = Topics()
        common = bus_env(port)
        workdir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))  # a fresh state per run
        self.controller = Service(
            "controller",
            common
            | {
                "WATTBUS_CONTROLLER_CONFIRM": "0",
                "WATTBUS_CONTROLLER_RELEASE": "0",
                "WATTBUS_CONTROLLER_BATTERIES": "zendure",
                "WATTBUS_CONTROLLER_METER": "grid-meter",
                "WATTBUS_CONTROLLER_STATE_DIR": str(workdir / "controller-state"),
            },
            workdir,
            stats=workdir / "controller.prof" if profile else None,
        )
        self.bridge = Service(
            "zendure",
            common
            | {
                "WATTBUS_ZENDURE_HOST": "127.0.0.1",
                "WATTBUS_ZENDURE_PORT": str(fake.port),
                "WATTBUS_ZENDURE_STATE_DIR": str(workdir / "zendure-state"),
            },
            workdir,
            stats=workdir / "zendure.prof" if profile else None,
        )
        self.services = (self.controller, self.bridge)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        t = self.topics
        try:
            async with (
                observer(
                    self.port,
                    "observer",
                    t.event("zendure"),
                    t.state("zendure"),
                    t.availability("zendure"),
                    t.availability("controller"),
                ) as self.seen,
                aiomqtt.Client("127.0.0.1", self.port, identifier="bench-meter") as self.meter,
            ):
                # no reading from an earlier run for the controller to act on
                await self.meter.publish(t.state("grid-meter"), b"", retain=True)
                await asyncio.sleep(0.2)  # the retained messages of an earlier run arrive ...
                mark = self.seen.mark()  # ... and do not count
                for s in self.services:
                    s.start()
                for device in ("controller", "zendure"):
                    await self.seen.wait(self._online(device), mark, READY)
                await self.seen.wait(lambda m: m.topic == t.state("zendure"), mark, READY)
                yield
        except TimeoutError:
            console.print("[red]timed out waiting for the services; their logs end with:[/red]")
            for s in self.services:
                console.print(f"[bold]{s.log}[/bold]")
                console.print(s.tail(), markup=False, highlight=False)
            raise
        finally:
            for s in self.services:
                s.stop()

    def _online(self, device: str) -> Callable[[Msg], bool]:
        topic = self.topics.availability(device)
        return lambda m: m.topic == topic and m.payload == b"online"

    def _state_with(self, hold: bool) -> Callable[[Msg], bool]:
        topic = self.topics.state("zendure")
        return lambda m: m.topic == topic and m.json()["hold"] is hold

    def _command(self, hold: bool) -> Callable[[Msg], bool]:
        topic = self.topics.set("zendure")
        return lambda m: m.topic == topic and m.json().get("hold") is hold

    async def run(
        self, events: int, gap: float, note: str = "", commands: Tape[Msg] | None = None
    ) -> Samples:
        """`events` hold + release cycles; each step waits for the bridge to finish. With
        `commands` (a tape of the `set` topic), each transition is also split in two."""
        out = Samples()
        cpu0 = {s.name: s.cpu() for s in self.services} | {"bench": time.process_time()}
        w_start, m_start = self.state.applied.mark(), self.seen.mark()
        meter_topic = self.topics.state("grid-meter")
        for i in range(events):
            # hold: a reading far above the threshold, retained and QoS 0 as the Shelly bridge
            # publishes it, with a fresh timestamp (the controller ignores stale readings)
            w_mark, m_mark = self.state.applied.mark(), self.seen.mark()
            r_mark = self.state.reports.mark()
            c_mark = commands.mark() if commands else 0
            payload = meter_payload(HIGH)
            t0 = time.perf_counter()
            await self.meter.publish(meter_topic, payload, retain=True)
            w = await self.state.applied.wait(is_held, w_mark)
            await self.seen.wait(self._state_with(True), m_mark)  # the bridge is done
            out.hold.append(w.t - t0)
            if commands:
                cmd = await commands.wait(self._command(True), c_mark)
                out.hold_to_set.append(cmd.t - t0)
                out.hold_set_to_write.append(w.t - cmd.t)
                # a bridge that reads the device (to save its settings) before it writes does
                # so after the command; the bench may see the command a little after the bridge
                reads = self.state.reports.items[r_mark:]
                if get := [r for r in reads if cmd.t - PRE_READ_SLACK <= r <= w.t]:
                    out.hold_set_to_get.append(get[-1] - cmd.t)
                    out.hold_get_to_write.append(w.t - get[-1])
            await asyncio.sleep(gap)
            # release: back to the base load
            w_mark, m_mark = self.state.applied.mark(), self.seen.mark()
            c_mark = commands.mark() if commands else 0
            payload = meter_payload(LOW)
            t0 = time.perf_counter()
            await self.meter.publish(meter_topic, payload, retain=True)
            w = await self.state.applied.wait(is_restored, w_mark)
            await self.seen.wait(self._state_with(False), m_mark)
            out.release.append(w.t - t0)
            if commands:
                cmd = await commands.wait(self._command(False), c_mark)
                out.release_to_set.append(cmd.t - t0)
                out.release_set_to_write.append(w.t - cmd.t)
            await asyncio.sleep(gap)
            if note and (i + 1) % 200 == 0:
                console.print(f"  {note}: {i + 1}/{events}", style="dim", highlight=False)
        cpu1 = {s.name: s.cpu() for s in self.services} | {"bench": time.process_time()}
        out.cpu = {k: (cpu1[k] - cpu0[k]) / events for k in cpu0}
        # one hold and one release per event, nothing more (no renewal, no resend): every
        # command the bridge applied is answered on its event topic
        event_topic = self.topics.event("zendure")
        applied = [
            m.json().get("command", {}).get("hold")
            for m in self.seen.items[m_start:]
            if m.topic == event_topic and m.json().get("kind") == "applied"
        ]
        out.commands = {h: applied.count(h) for h in (True, False)}
        writes = [w.properties.get("minSoc") for w in self.state.applied.items[w_start:]]
        out.writes = {h: sum((v == HELD_MIN_SOC) is h for v in writes) for h in (True, False)}
        return out


async def broker_hop(
    port: int, payload: bytes, qos: int, samples: int, gap: float = 0.0
) -> list[float]:
    """Publish, wait for it on another connection; one message in flight at a time, `gap` s
    of quiet after each."""
    topic = "bench/hop"
    out: list[float] = []
    async with (
        observer(port, f"hop-sub-{qos}", topic) as got,
        aiomqtt.Client("127.0.0.1", port, identifier=f"bench-hop-pub-{qos}") as pub,
    ):
        for i in range(WARMUP + samples):
            mark = got.mark()
            t0 = time.perf_counter()
            await pub.publish(topic, payload, qos=qos)
            m = await got.wait(lambda _m: True, mark)
            if i >= WARMUP:
                out.append(m.t - t0)
            if gap:
                await asyncio.sleep(gap)
    return out


def write_body(sn: str, i: int) -> bytes:
    body = {"sn": sn, "id": i, "properties": {"smartMode": 1, "minSoc": 1000 if i % 2 else 100}}
    return json.dumps(body, separators=(",", ":")).encode()


async def client_floor(fake: FakeZendure, samples: int) -> tuple[list[float], list[float]]:
    """The bridge's two calls with the bridge's own client, and nothing else."""
    writes: list[float] = []
    reads: list[float] = []
    async with SolarFlow(fake.host, port=fake.port) as flow:
        await flow.report()  # the serial number every write carries
        for i in range(WARMUP + samples):
            t0 = time.perf_counter()
            await flow.write({"minSoc": 1000 if i % 2 else 100})
            t1 = time.perf_counter()
            await flow.report()
            t2 = time.perf_counter()
            if i >= WARMUP:
                writes.append(t1 - t0)
                reads.append(t2 - t1)
    return writes, reads


async def raw_floor(fake: FakeZendure, samples: int) -> tuple[list[float], list[float]]:
    """The same two calls from bytes prepared beforehand on one kept-alive socket: what is left
    is the fake (aiohttp) and the loopback."""
    reader, writer = await asyncio.open_connection(fake.host, fake.port)

    async def call(request: bytes) -> None:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode(errors="replace"))
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.lower().split(b"\r\n")
            if line.startswith(b"content-length:")
        )
        await reader.readexactly(length)

    host = f"Host: {fake.host}:{fake.port}\r\n".encode()
    get = b"GET /properties/report HTTP/1.1\r\n" + host + b"\r\n"
    writes: list[float] = []
    reads: list[float] = []
    try:
        for i in range(WARMUP + samples):
            body = write_body(fake.state.sn, i)
            post = (
                b"POST /properties/write HTTP/1.1\r\n"
                + host
                + b"Content-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            t0 = time.perf_counter()
            await call(post)
            t1 = time.perf_counter()
            await call(get)
            t2 = time.perf_counter()
            if i >= WARMUP:
                writes.append(t1 - t0)
                reads.append(t2 - t1)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return writes, reads


def fsync_cost(workdir: Path, samples: int) -> list[float]:
    """The bridge's hold file on this disk: temp file, fsync, rename, fsync of the folder."""
    path = workdir / "fsync-probe" / "zendure.hold.json"
    path.parent.mkdir()  # as the Holder makes it when it starts
    text = json.dumps({"saved": {"min_soc": 10.0, "output_limit": 800.0}}, indent=2)
    out = []
    for _ in range(samples):
        t0 = time.perf_counter()
        write_atomically(path, text)
        out.append(time.perf_counter() - t0)
    return out


# ---- profile ---------------------------------------------------------------------------------

IDLE = "<method 'poll' of 'select.epoll' objects>"  # the event loop waiting: not work


def where(filename: str) -> str:
    """The package a profiled function belongs to."""
    if filename == "~":
        return "C built-ins"
    if filename.startswith("<frozen importlib"):
        return "importlib (imports at run time)"
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    for marker in ("/src/",):
        if marker in filename:
            return filename.split(marker, 1)[1].split("/", 1)[0]
    if "/lib/python3" in filename:
        rest = filename.split("/lib/python3", 1)[1].split("/", 2)
        return "stdlib " + (rest[1].removesuffix(".py") if len(rest) > 1 else "?")
    return Path(filename).name


def show_profile(name: str, path: Path, events: int, top: int = 14) -> None:
    raw: dict[Any, Any] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    total = 0.0
    groups: dict[str, float] = defaultdict(float)
    funcs: list[tuple[float, int, str]] = []
    for (filename, line, func), (_cc, calls, tottime, _ct, _callers) in raw.items():
        if func == IDLE:
            continue
        total += tottime
        groups[where(filename)] += tottime
        short = func if filename == "~" else f"{func} ({Path(filename).name}:{line})"
        funcs.append((tottime, calls, short))
    per = 1000 / events  # ms per event
    table = Table(
        title=f"{name}: {total * per:.1f} ms CPU per hold + release under cProfile "
        f"({events} events; idle excluded)",
        title_justify="left",
    )
    table.add_column("package")
    table.add_column("ms/event", justify="right")
    table.add_column("share", justify="right")
    for group, t in sorted(groups.items(), key=lambda kv: -kv[1])[:10]:
        table.add_row(group, f"{t * per:.2f}", f"{t / total:.0%}")
    console.print(table)
    table = Table(title=f"{name}: top functions by own time", title_justify="left")
    table.add_column("function")
    table.add_column("calls/event", justify="right")
    table.add_column("ms/event", justify="right")
    for tottime, calls, short in sorted(funcs, reverse=True)[:top]:
        table.add_row(short, f"{calls / events:.1f}", f"{tottime * per:.3f}")
    console.print(table)


# ---- report ----------------------------------------------------------------------------------


def print_latency(
    e2e: Samples,
    burst: Samples,
    split: Samples,
    gap: float,
    hop0: list[float],
    hop1: list[float],
    hop_quiet: list[float],
    floor: list[float],
    floor_burst: list[float],
    payload_size: int,
    client_post: list[float],
    client_get: list[float],
    raw_post: list[float],
    raw_get: list[float],
) -> None:
    table = Table(title="Latency (ms), one clock in the bench process", title_justify="left")
    for col in ("path", "n", "p50", "p90", "p99", "max", "target"):
        table.add_column(col, justify="left" if col in ("path", "target") else "right")

    def row(name: str, values: list[float], target: str = "") -> None:
        v = ms(values)
        table.add_row(name, str(len(v)), *stats_row(v), target)

    pause = f"{gap * 1000:g} ms quiet before each"
    target = f"p99 <= {TARGET_RATIO:g}x (d)'s"
    row(
        f"(a) hold: meter high -> minSoc 1000 write ({pause})",
        e2e.hold,
        f"{target}: {verdict(e2e.hold, floor)}",
    )
    row(f"(a) release: meter low -> restore write ({pause})", e2e.release)
    row(
        "(a) hold, back to back (no pause: connections busy)",
        burst.hold,
        f"{target}: {verdict(burst.hold, floor_burst)}",
    )
    row("(a) release, back to back", burst.release)
    row(f"(b) broker hop, QoS 0, {payload_size} B (meter state)", hop0)
    row(f"(b) broker hop, QoS 1, {len(SET_PAYLOAD)} B (set command)", hop1)
    row(f"(b) broker hop, QoS 0, {payload_size} B, {pause}", hop_quiet)
    row(f"(d) floor: the same path through two bare relays ({pause})", floor)
    row("(d) floor, back to back", floor_burst)
    row("(c) fake floor, the bridge's client: POST /properties/write", client_post)
    row("(c) fake floor, the bridge's client: GET /properties/report", client_get)
    row("(c) fake floor, raw socket: POST /properties/write", raw_post)
    row("(c) fake floor, raw socket: GET /properties/report", raw_get)
    console.print(table)
    device = (
        "goes to the device once (the write)"
        if not split.hold_set_to_get
        else "goes to the device twice (the bridge reads the settings it saves, then writes)"
        if len(split.hold_set_to_get) == len(split.hold)
        else f"goes to the device twice in {len(split.hold_set_to_get)} of {len(split.hold)} events"
    )
    above = (percentile(e2e.hold, 50) - percentile(floor, 50)) * 1000  # ms
    console.print(
        f"hold p50 is {above:.2f} ms above the floor's (wattbus's own work); "
        f"hold p50 / broker hop p50 (both after quiet) = "
        f"{percentile(e2e.hold, 50) / percentile(hop_quiet, 50):.1f}x; "
        f"the hold crosses the broker twice (meter -> controller, set -> bridge) and {device}.",
        highlight=False,
    )


def print_breakdown(e2e: Samples, split: Samples, fsync: list[float]) -> None:
    title = f"Where the time goes (ms), {len(split.hold)} more events with the bench on `set` too"
    table = Table(title=title, title_justify="left")
    for col in ("leg", "p50", "p90", "p99", "max"):
        table.add_column(col, justify="left" if col == "leg" else "right")

    def leg(name: str, values: list[float]) -> None:
        table.add_row(name, *stats_row(ms(values)))

    n, reads = len(split.hold), len(split.hold_set_to_get)
    leg("hold: meter publish -> minSoc write at the fake (whole path)", split.hold)
    leg("hold: meter publish -> set on the broker (2 hops + controller)", split.hold_to_set)
    leg("hold: set on the broker -> minSoc write at the fake (bridge)", split.hold_set_to_write)
    if reads:
        leg(f"  read first ({reads}/{n}): set -> bridge's GET report", split.hold_set_to_get)
        leg(f"  read first ({reads}/{n}): GET -> write (incl. hold file)", split.hold_get_to_write)
    leg("release: meter publish -> set on the broker", split.release_to_set)
    leg("release: set on the broker -> restore write at the fake", split.release_set_to_write)
    leg("hold file: write + fsync + rename + fsync dir (bench probe)", fsync)
    console.print(table)
    c, w = e2e.commands, e2e.writes
    n = len(e2e.hold)
    ok = c[True] == c[False] == w[True] == w[False] == n
    console.print(
        f"{'checked' if ok else '[red]NOT as expected[/red]'}: {n} events gave {c[True]} hold "
        f"and {c[False]} release commands applied, {w[True]} minSoc 1000 and {w[False]} "
        "restore writes",
        highlight=False,
    )
    cpu = ", ".join(f"{name} {s * 1000:.1f} ms" for name, s in e2e.cpu.items())
    console.print(
        f"CPU per hold + release cycle: {cpu} (bench = the fake, the meter and the observer; "
        f"/proc tick {1000 / CLK_TCK:g} ms, averaged over the run)",
        highlight=False,
    )


async def main(events: int, gap: float, profile: bool) -> None:
    console.print(
        f"[bold]wattbus latency[/bold]: {events} hold events (+{WARMUP} warm-up) with "
        f"{gap * 1000:g} ms of quiet after each transition, then {BURST_EVENTS} back to back; "
        f"{os.cpu_count()} CPUs",
        highlight=False,
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wattbus-bench-") as tmp:
        workdir = Path(tmp)
        async with local_broker() as (port, kind):
            console.print(f"broker: {kind} on 127.0.0.1:{port}", highlight=False)
            state = TimedZendure()
            fake = await start_fake_zendure(state)
            try:
                home = Home(port, fake, state, workdir, profile=False)
                async with home.running():
                    await home.run(WARMUP, gap)
                    e2e = await home.run(events, gap, note="events")
                    burst = await home.run(BURST_EVENTS, 0.0)
                    async with observer(port, "commands", home.topics.set("zendure")) as cmds:
                        split = await home.run(SPLIT_EVENTS, gap, commands=cmds)
                before = dict(state.properties)
                floor = await relay_floor(port, fake, state, FLOOR_EVENTS, gap)
                floor_burst = await relay_floor(port, fake, state, FLOOR_EVENTS, 0.0)
                state.properties.update(before)
                payload = meter_payload(HIGH)
                hop0 = await broker_hop(port, payload, 0, HOP_SAMPLES)
                hop1 = await broker_hop(port, SET_PAYLOAD, 1, HOP_SAMPLES)
                hop_quiet = await broker_hop(port, payload, 0, QUIET_HOP_SAMPLES, gap)
                before = dict(state.properties)
                client_post, client_get = await client_floor(fake, HTTP_SAMPLES)
                raw_post, raw_get = await raw_floor(fake, HTTP_SAMPLES)
                state.properties.update(before)  # not left looking held
                if profile:
                    console.print(f"profiling both services over {PROFILE_EVENTS} events ...")
                    home = Home(port, fake, state, workdir, profile=True)
                    async with home.running():
                        await home.run(WARMUP, gap)
                        for s in home.services:
                            s.signal(signal.SIGUSR1)
                        await asyncio.sleep(0.1)  # let the handlers run before counting
                        profiled = await home.run(PROFILE_EVENTS, gap)
                        for s in home.services:
                            s.signal(signal.SIGUSR2)
                        await asyncio.sleep(1.0)  # the stats files get written
            finally:
                await fake.close()
        fsync = await asyncio.to_thread(fsync_cost, workdir, FSYNC_SAMPLES)
        console.print(f"took {time.monotonic() - started:.0f} s", highlight=False)
        print_latency(
            e2e,
            burst,
            split,
            gap,
            hop0,
            hop1,
            hop_quiet,
            floor,
            floor_burst,
            len(payload),
            client_post,
            client_get,
            raw_post,
            raw_get,
        )
        print_breakdown(e2e, split, fsync)
        if profile:
            console.print(
                f"under cProfile: hold p50 {percentile(ms(profiled.hold), 50):.1f} ms "
                "(slower than above: the profiler's own cost)",
                highlight=False,
            )
            for s in home.services:
                assert s.stats is not None
                if s.stats.exists():
                    show_profile(s.name, s.stats, PROFILE_EVENTS)
                else:
                    console.print(f"[red]no profile written for {s.name}[/red]")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1000, help="hold events measured")
    parser.add_argument(
        "--gap", type=float, default=GAP, help="s of quiet after each hold and each release"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile both services (cProfile)"
    )
    args = parser.parse_args()
    if args.events < 1 or args.gap < 0:
        parser.error("--events must be at least 1 and --gap at least 0")
    asyncio.run(main(args.events, args.gap, args.profile))


if __name__ == "__main__":
    cli()
