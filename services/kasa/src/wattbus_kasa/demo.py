"""The bridge on a demo's sped-up day, as a process of its own:
`python -m wattbus_kasa.demo <the day's time> <at this wall-clock time> <speed>`.

`wattbus demo --scenario solar` runs the kasa bridge this way and never imports it: this
service is GPL-3.0-or-later, as python-kasa is, and no other wattbus package links it. Its
states must carry the demo day's time, which every other part of that demo keeps (the
controller judges a state's age by it), so the clock comes on the command line: the day's time
at a wall-clock instant, and the speed. Both processes read the same wall clock. Its stdin is
a pipe from the demo, and it stops when that ends. Everything else is `wattbus run kasa`'s:
its settings and the broker's from the environment the demo gives it."""

from __future__ import annotations

import asyncio
import functools
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from wattbus.service import ServiceSpec, run_spec
from wattbus.settings import BusSettings
from wattbus.stopping import run_together

from wattbus_kasa.service import SERVICE, serve
from wattbus_kasa.settings import KasaSettings

USAGE = "usage: python -m wattbus_kasa.demo <the day's time, ISO with offset> <wall s> <speed>"


class DemoGone(Exception):
    """The demo that started this process ended without stopping it (it was killed)."""


def day_clock(day_at: datetime, wall: float, speed: float) -> Callable[[], datetime]:
    """The day's time now: `day_at` at wall-clock time `wall`, `speed` times faster since."""

    def now() -> datetime:
        return day_at + timedelta(seconds=(time.time() - wall) * speed)

    return now


async def demo_runs() -> None:
    """Until stdin, a pipe from the demo, ends: the system closes it with the demo, however
    the demo ended (killed outright, it cannot stop this process itself)."""
    reader = asyncio.StreamReader()
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    try:
        await reader.read()  # the demo writes nothing: this ends at the pipe's end
    finally:
        transport.close()
    raise DemoGone


async def serve_for(
    settings: KasaSettings, bus: BusSettings, clock: Callable[[], datetime]
) -> None:
    """The bridge while the demo lives: it must not retry a dead demo's broker for ever."""
    await run_together(serve(settings, bus, clock), demo_runs())


def main(args: list[str]) -> int:
    try:
        day_at, wall, speed = datetime.fromisoformat(args[0]), float(args[1]), float(args[2])
    except (IndexError, ValueError):
        print(USAGE, file=sys.stderr)
        return 2
    if day_at.tzinfo is None or not 0 < speed <= 1000 or len(args) != 3:
        print(USAGE, file=sys.stderr)
        return 2
    run = functools.partial(serve_for, clock=day_clock(day_at, wall, speed))
    try:
        return run_spec(ServiceSpec(SERVICE.name, SERVICE.settings, run))
    except DemoGone:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
