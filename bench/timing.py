"""What the latency benches share: messages stamped on arrival, waiting for the one expected,
and the percentiles and the verdict they print. One clock throughout (`time.perf_counter`),
so a stamp taken here and one taken where a publish left compare directly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import aiomqtt
from wattbus.stopping import stop

# The targets are ratios, not times: these shared 2-core VMs drift from run to run, so a
# path's p99 is judged against the p99 of the same hops through bare relays, taken in the
# same run with the same quiet (or none), which drifts with it.
TARGET_RATIO = 1.3
WAIT = 10.0  # s: the longest any single step may take before the bench gives up

T = TypeVar("T")


class Tape(Generic[T]):
    """Everything seen, in order, and a way to wait for the first match after a mark."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self._new = asyncio.Event()

    def add(self, item: T) -> None:
        self.items.append(item)
        self._new.set()

    def mark(self) -> int:
        return len(self.items)

    async def wait(self, pred: Callable[[T], bool], after: int, limit: float = WAIT) -> T:
        i = after
        async with asyncio.timeout(limit):
            while True:
                while i < len(self.items):
                    if pred(self.items[i]):
                        return self.items[i]
                    i += 1
                self._new.clear()
                await self._new.wait()


@dataclass(frozen=True)
class Msg:
    t: float  # perf_counter when the bench's observer got it
    topic: str
    payload: bytes

    def json(self) -> Any:
        return json.loads(self.payload)


@contextlib.asynccontextmanager
async def observer(port: int, name: str, *topics: str, qos: int = 0) -> AsyncIterator[Tape[Msg]]:
    """A connection that records every message on `topics`, stamped on arrival. QoS 0 by
    default, as the services subscribe; a stand-in for a device subscribes as it does."""
    tape: Tape[Msg] = Tape()
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"bench-{name}") as client:
        for t in topics:
            await client.subscribe(t, qos=qos)

        async def pump() -> None:
            async for m in client.messages:
                payload = m.payload if isinstance(m.payload, bytes) else b""
                tape.add(Msg(time.perf_counter(), str(m.topic), payload))

        task = asyncio.create_task(pump())
        try:
            yield tape
        finally:
            await stop(task)


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks; q in 0..100."""
    s = sorted(v for v in values if not math.isnan(v))
    if not s:
        return math.nan
    k = (len(s) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def ms(seconds: list[float]) -> list[float]:
    return [x * 1000 for x in seconds]


def fmt(x: float) -> str:
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def stats_row(values_ms: list[float]) -> list[str]:
    return [fmt(percentile(values_ms, q)) for q in (50, 90, 99, 100)]


def verdict(values: list[float], floor: list[float]) -> str:
    ratio = percentile(values, 99) / percentile(floor, 99)
    shown = f"p99 {ratio:.2f}x the floor's"
    if ratio <= TARGET_RATIO:
        return f"[green]met: {shown}[/green]"
    return f"[red]missed: {shown}[/red]"
