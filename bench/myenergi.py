"""myenergi bridge: how long a command takes from `wattbus/zappi/set` to its `applied` answer,
through the broker, the bridge (a real `wattbus run myenergi` process) and the fake myenergi
cloud, against the floor of the same run.

Each command switches the Zappi between Eco and Eco+. On its way: the broker, a status request
(the mode a boost must meet), the mode call, a status request that shows it, the broker again;
each request through pymyenergi and httpx with digest auth. The floor is one bare HTTP round
trip to the fake (a prepared, authorized status request on a raw socket) plus one broker hop
(a publish and its delivery to another connection), taken right after each command.

    uv run python bench/myenergi.py [--commands 100] [--gap 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import re
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
from rich.console import Console
from rich.table import Table
from timing import Msg, Tape, ms, observer, percentile, stats_row, verdict
from wattbus_simulator.broker import local_broker
from wattbus_simulator.fake_myenergi import REALM, FakeMyenergi, ZappiState, start_fake_myenergi
from wattbus_simulator.processes import ServiceProcess, bus_env

DEVICE = "zappi"
SET = f"wattbus/{DEVICE}/set"
EVENT = f"wattbus/{DEVICE}/event"
HOP = "bench/hop"
READY = 30.0  # s for the bridge to start and first read the Zappi
WARMUP = 3  # commands first, not counted
console = Console()


@contextlib.asynccontextmanager
async def bridge(port: int, fake: FakeMyenergi, workdir: Path) -> AsyncIterator[None]:
    env = bus_env(port) | {
        "WATTBUS_DISCOVERY": "false",
        "WATTBUS_MYENERGI_HUB_SERIAL": fake.state.hub_serial,
        "WATTBUS_MYENERGI_API_KEY": fake.state.api_key,
        "WATTBUS_MYENERGI_LOOPBACK_PORT": str(fake.port),
        "WATTBUS_MYENERGI_POLL_INTERVAL": "3600",  # no poll between the commands
    }
    service = ServiceProcess("myenergi", env, workdir)
    service.start()
    try:
        yield
    finally:
        service.stop()


class RawStatus:
    """One authorized `GET /cgi-jstatus-Z<serial>` on a kept-alive socket, prepared once."""

    def __init__(self, fake: FakeMyenergi) -> None:
        self.fake = fake
        self.path = f"/cgi-jstatus-Z{fake.state.serial}"
        self.request = b""
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.fake.port)
        head = await self._send(f"GET {self.path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        nonce = re.search(rb'nonce="([^"]+)"', head)
        assert nonce, head
        s = self.fake.state
        ha1 = _md5(s.hub_serial, REALM, s.api_key)
        answer = _md5(ha1, nonce[1].decode(), "00000001", "bench", "auth", _md5("GET", self.path))
        auth = (
            f'Digest username="{s.hub_serial}", realm="{REALM}", nonce="{nonce[1].decode()}", '
            f'uri="{self.path}", response="{answer}", qop=auth, nc=00000001, cnonce="bench"'
        )
        self.request = (
            f"GET {self.path} HTTP/1.1\r\nHost: bench\r\nAuthorization: {auth}\r\n\r\n".encode()
        )

    async def round_trip(self) -> float:
        t0 = time.perf_counter()
        head = await self._send(self.request)
        elapsed = time.perf_counter() - t0
        assert head.startswith(b"HTTP/1.1 200"), head[:40]
        return elapsed

    async def _send(self, request: bytes) -> bytes:
        assert self.reader is not None and self.writer is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: *(\d+)", head)
        await self.reader.readexactly(int(length[1]) if length else 0)
        return head

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _md5(*parts: str) -> str:
    return hashlib.md5(":".join(parts).encode()).hexdigest()


async def command(client: aiomqtt.Client, tape: Tape[Msg], i: int) -> float:
    mode = "eco" if i % 2 else "eco+"
    mark = tape.mark()
    t0 = time.perf_counter()
    await client.publish(SET, json.dumps({"mode": mode, "id": i}), qos=1)
    answer = await tape.wait(lambda m: m.topic == EVENT and m.json().get("id") == i, mark)
    assert answer.json()["kind"] == "applied", answer.payload
    return answer.t - t0


async def hop(client: aiomqtt.Client, tape: Tape[Msg], i: int) -> float:
    mark = tape.mark()
    t0 = time.perf_counter()
    await client.publish(HOP, json.dumps({"mode": "eco", "id": i}), qos=1)
    got = await tape.wait(lambda m: m.topic == HOP, mark)
    return got.t - t0


async def main(commands: int, gap: float) -> None:
    async with contextlib.AsyncExitStack() as stack:
        port, kind = await stack.enter_async_context(local_broker())
        fake = await start_fake_myenergi(ZappiState())
        stack.push_async_callback(fake.close)
        tape = await stack.enter_async_context(observer(port, "tape", "wattbus/#", HOP))
        online = tape.mark()
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        await stack.enter_async_context(bridge(port, fake, workdir))
        await tape.wait(lambda m: m.topic.endswith("/availability") and m.payload == b"online",
                        online, READY)  # fmt: skip
        client = await stack.enter_async_context(
            aiomqtt.Client("127.0.0.1", port, identifier="bench-sender")
        )
        raw = RawStatus(fake)
        await raw.open()
        stack.callback(raw.close)
        latency, http, hops = [], [], []
        for i in range(WARMUP + commands):
            await asyncio.sleep(gap)
            took = await command(client, tape, i)
            await asyncio.sleep(gap)
            rt = await raw.round_trip()
            h = await hop(client, tape, i)
            if i >= WARMUP:
                latency.append(took)
                http.append(rt)
                hops.append(h)
    floor = [a + b for a, b in zip(http, hops, strict=True)]
    report(kind, commands, latency, http, hops, floor)


def report(
    kind: str,
    n: int,
    latency: list[float],
    http: list[float],
    hops: list[float],
    floor: list[float],
) -> None:
    table = Table(title=f"myenergi: {n} commands, broker {kind} (ms)")
    for col in ("", "p50", "p90", "p99", "max"):
        table.add_column(col, justify="right" if col else "left")
    table.add_row("set -> applied", *stats_row(ms(latency)))
    table.add_row("bare HTTP round trip", *stats_row(ms(http)))
    table.add_row("broker hop", *stats_row(ms(hops)))
    table.add_row("floor (HTTP + hop)", *stats_row(ms(floor)))
    console.print(table)
    ratio50 = percentile(latency, 50) / percentile(floor, 50)
    console.print(f"p50 {ratio50:.2f}x the floor's; {verdict(latency, floor)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.1, help="s of quiet before each step")
    args = parser.parse_args()
    asyncio.run(main(args.commands, args.gap))
