"""Two edges of the runtime every service shares: the bridge loop's wake-up, and stopping on a
signal. Neither needs a broker: the bridge's bus is never connected here, and the stop test
runs a service that talks to nothing."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from datetime import datetime

from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.discovery import DeviceInfo
from wattbus.models import Command, MeterState
from wattbus.settings import BusSettings

WAIT = 10.0  # s: an upper bound; each test ends as soon as what it waits for happens


class SlowMeter:
    """A device whose first reading takes until the test lets it finish."""

    info = DeviceInfo("slow-meter", "Slow meter", "test", "test")

    def __init__(self) -> None:
        self.reads = 0
        self.reading = asyncio.Event()
        self.finish = asyncio.Event()
        self.read_again = asyncio.Event()

    async def read(self, now: datetime) -> MeterState:
        self.reads += 1
        if self.reads == 1:
            self.reading.set()
            await self.finish.wait()
        else:
            self.read_again.set()
        return MeterState(ts=now, power=0.0)

    async def apply(self, command: Command, now: datetime) -> str:
        raise NotImplementedError


async def test_a_poll_now_during_a_poll_reads_again_at_once() -> None:
    """A push or a command that arrives while the device is being read must not wait for the
    next tick (an hour here)."""
    bus = Bus(BusSettings(discovery=False), "slow-meter")
    meter = SlowMeter()
    bridge: Bridge[MeterState, Command] = Bridge(
        bus, meter, entities=(), command_model=None, errors=(), interval=3600
    )
    loop = asyncio.create_task(bridge.run())
    try:
        async with asyncio.timeout(WAIT):
            await meter.reading.wait()
            bridge.poll_now()
            meter.finish.set()
            await meter.read_again.wait()
    finally:
        loop.cancel()


STUBBORN = """
import asyncio
from wattbus.service import run_until_signalled

async def stubborn() -> None:
    try:
        print("ready", flush=True)
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        print("dropped", flush=True)  # as Python 3.11's asyncio.wait_for can drop it
    await asyncio.Event().wait()

run_until_signalled(stubborn())
print("stopped", flush=True)
"""


def test_sigterm_stops_a_service_that_drops_the_first_cancel() -> None:
    process = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=WAIT)
    assert out == "dropped\nstopped\n"
    assert process.returncode == 0
