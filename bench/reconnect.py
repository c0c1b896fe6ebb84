"""Reconnect: how soon every service is back on the bus after the broker was away.

The bench starts Mosquitto, the fake Shelly and the fake Zendure, and the three services as
real processes (`wattbus run`, as in their containers). Once all three say `online`, it stops
the broker for `--outage` s (20 by default, the outage of the fault run that found services
taking up to 31 s to come back) and starts it again on the same port, without persistence, so
every retained message is gone. A client of the bench's own connects as soon as the port
opens (the floor: the broker is back) and waits for each service's retained `online`, which a
service publishes when it has reconnected and subscribed again. Each figure is the time from
the port opening to that service's `online`.

    uv run python bench/reconnect.py [--outage 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
from rich.console import Console
from rich.table import Table
from wattbus.bus import BACKOFF_MAX
from wattbus_simulator.broker import free_port, mosquitto_binary
from wattbus_simulator.fake_shelly import ShellyPro3EMState, start_fake_shelly
from wattbus_simulator.fake_zendure import ZendureState, start_fake_zendure
from wattbus_simulator.processes import ServiceProcess, bus_env, fake_devices_env

SERVICES = {"shelly": "grid-meter", "zendure": "zendure", "controller": "controller"}
OPEN_TIMEOUT = 10.0  # s for the broker's port to open
BACK_TIMEOUT = 60.0  # s for every service to be back: far above the worst seen before (31 s)
LOOK_EVERY = 0.005  # s between attempts to reach the restarted broker (the floor's resolution)


class Mosquitto:
    """Anonymous, loopback, no persistence; stopped and started on one port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> float:
        """Start it; the perf_counter time at which its port accepted a connection."""
        binary = mosquitto_binary()
        if binary is None:
            raise SystemExit("bench/reconnect.py needs the mosquitto binary")
        self.proc = await asyncio.create_subprocess_exec(
            binary, "-c", str(self.conf), stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        async with asyncio.timeout(OPEN_TIMEOUT):
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(LOOK_EVERY)
                    continue
                opened = time.perf_counter()
                writer.close()
                return opened

    async def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            await self.proc.wait()
            self.proc = None


async def back_online(port: int, opened: float) -> dict[str, float]:
    """Seconds from `opened` to each service's `online` on a broker that has just started."""
    back: dict[str, float] = {}
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-reconnect") as client:
        await client.subscribe("wattbus/+/availability")
        async with asyncio.timeout(BACK_TIMEOUT):
            async for message in client.messages:
                device = str(message.topic).split("/")[1]
                if message.payload == b"online" and device in SERVICES.values():
                    back.setdefault(device, time.perf_counter() - opened)
                if len(back) == len(SERVICES):
                    return back
    raise AssertionError("unreachable")


@contextlib.asynccontextmanager
async def home(broker: Mosquitto, workdir: Path) -> AsyncIterator[None]:
    shelly = await start_fake_shelly(ShellyPro3EMState())
    zendure = await start_fake_zendure(ZendureState())
    env = bus_env(broker.port) | fake_devices_env(shelly.port, zendure.port, workdir)
    procs = [ServiceProcess(name, env, workdir) for name in SERVICES]
    try:
        for p in procs:
            p.start()
        yield
    finally:
        for p in procs:
            p.stop()
        await shelly.close()
        await zendure.close()


async def main(outage: float, rounds: int) -> None:
    console = Console()
    results: dict[str, list[float]] = {device: [] for device in SERVICES.values()}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = Mosquitto(workdir)
        opened = await broker.start()
        try:
            async with home(broker, workdir):
                await back_online(broker.port, opened)  # all up before the first outage
                for n in range(rounds):
                    await broker.stop()
                    console.print(f"round {n + 1}/{rounds}: broker away for {outage:g} s")
                    await asyncio.sleep(outage)  # the outage itself, not a synchronisation
                    opened = await broker.start()
                    for device, after in (await back_online(broker.port, opened)).items():
                        results[device].append(after)
        finally:
            await broker.stop()
    table = Table(title=f"back on the bus after a {outage:g} s broker outage ({rounds} rounds)")
    for column in ("service", "mean", "max", "target"):
        table.add_column(column, justify="left" if column == "service" else "right")
    for device, seconds in results.items():
        worst = max(seconds)
        met = "met" if worst <= BACKOFF_MAX + 1 else "missed"
        table.add_row(device, f"{statistics.mean(seconds):.2f} s", f"{worst:.2f} s",
                      f"a few s ({BACKOFF_MAX + 1:g} s): {met}")  # fmt: skip
    console.print(table)
    console.print(f"zero: the restarted broker's port accepts; the services retry every "
                  f"{BACKOFF_MAX:g} s at most (BACKOFF_MAX)")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outage", type=float, default=20.0, help="s the broker is away")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.outage, args.rounds))
