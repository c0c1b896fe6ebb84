"""Memory: the peak resident set (VmHWM) of each service, run as it runs in its container.

The three services (`wattbus run shelly|zendure|controller`) run as processes for ~15 s against
the fake Shelly and the fake Zendure (in this process) and a private Mosquitto, while a
simulated household steps: the base load moves, an EV charges for a while, so the controller
holds the battery and releases it again and every code path that runs daily runs here too.
The peak is read from /proc/<pid>/status just before each process is stopped. For scale, the
same is read for an interpreter that only imports what `wattbus run` imports before it starts.

The image compiles the bytecode when it is built (UV_COMPILE_BYTECODE=1); a dev venv made by uv
has none, and PYTHONDONTWRITEBYTECODE may forbid caching it, so every start would compile from
source, which raises the peak by a few MB. The bench compiles everything first into a cache of
its own (PYTHONPYCACHEPREFIX in its temp folder), so the figures are those of the image.

    uv run python bench/memory.py [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiomqtt
import wattbus
import wattbus_controller
import wattbus_shelly
import wattbus_zendure
from rich.console import Console
from rich.table import Table
from wattbus_simulator.broker import local_broker
from wattbus_simulator.fake_shelly import ShellyPro3EMState, start_fake_shelly
from wattbus_simulator.fake_zendure import ZendureState, start_fake_zendure
from wattbus_simulator.household import EvSession, Household
from wattbus_simulator.processes import ServiceProcess, bus_env, fake_devices_env

TARGET_MB = 45.0  # MiB of peak RSS per service
STEP = 0.25  # s between household steps (real time = simulated time)
EV_START = 3.0  # s after the services are up
EV_DURATION = 6.0  # s: the controller holds after 1 s above, releases 3 s after the end
CONFIRM = "1"  # s (default 3): a hold and a release both fit in the run
RELEASE = "3"  # s (default 120)
READY = 20.0  # s for every service to say `online`
SERVICES = ("shelly", "zendure", "controller")
DEVICE_OF = {"shelly": "grid-meter", "zendure": "zendure", "controller": "controller"}
PROBE = (
    "import sys, {modules}\nprint(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])\n"
)
NOT_COMPILED = r"/(mypy|mypyc|ruff|pip|pytest|_pytest)/"  # dev tools the services never import

console = Console(width=None if sys.stdout.isatty() else 120)


def status_kb(pid: int, field: str) -> int:
    """A `kB` field of /proc/<pid>/status (VmHWM: peak resident set, VmRSS: current)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def bytecode_env(cache: Path) -> dict[str, str]:
    """Python reads and writes its .pyc files under `cache`, whatever the environment says."""
    return {"PYTHONPYCACHEPREFIX": str(cache), "PYTHONDONTWRITEBYTECODE": ""}


def compile_bytecode(cache: Path) -> None:
    """What UV_COMPILE_BYTECODE does for the image, into `cache`: the venv is left as it is.
    The standard library too: the image's Python ships it compiled, and with a cache prefix
    set, Python looks for every .pyc there, so an uncompiled one is compiled at each start."""
    packages = (wattbus, wattbus_shelly, wattbus_zendure, wattbus_controller)
    roots = [
        sysconfig.get_paths()["stdlib"],
        sysconfig.get_paths()["purelib"],
        *(str(Path(p.__file__ or "").parent) for p in packages),
    ]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", "-x", NOT_COMPILED, *roots],
        env=os.environ | bytecode_env(cache),
        capture_output=True,  # a few files in the venv are not Python 3 source: not ours
        check=False,
        timeout=300,
    )


def run_imports() -> str:
    """What `wattbus run` imports before it starts a service: a light entry point where the
    package has one (`python -m wattbus`), else the whole CLI."""
    if importlib.util.find_spec("wattbus.main") is not None:
        return "wattbus.main, wattbus.service"
    return "wattbus.cli"


def import_floor(modules: str, env: dict[str, str]) -> float:
    """MiB of peak RSS of an interpreter that imports `modules` and stops."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(modules=modules)],
        env=os.environ | env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(out.stdout.strip()) / 1024


async def run(
    seconds: float, workdir: Path, python_env: dict[str, str]
) -> tuple[dict[str, tuple[int, int]], Counter[str], list[int]]:
    meter = ShellyPro3EMState()
    battery = ZendureState()
    async with local_broker() as (port, kind):
        console.print(f"broker: {kind} on 127.0.0.1:{port}", highlight=False)
        shelly = await start_fake_shelly(meter)
        zendure = await start_fake_zendure(battery)
        env = (
            python_env
            | bus_env(port)
            | fake_devices_env(shelly.port, zendure.port, workdir)
            | {
                "WATTBUS_CONTROLLER_CONFIRM": CONFIRM,
                "WATTBUS_CONTROLLER_RELEASE": RELEASE,
            }
        )
        procs = {name: ServiceProcess(name, env, workdir) for name in SERVICES}
        seen: Counter[str] = Counter()
        peaks: dict[str, tuple[int, int]] = {}
        try:
            async with aiomqtt.Client("127.0.0.1", port, identifier="bench-memory") as obs:
                await obs.subscribe("wattbus/#")
                for p in procs.values():
                    p.start()
                online: set[str] = set()
                async with asyncio.timeout(READY):
                    async for m in obs.messages:
                        if str(m.topic).endswith("/availability") and m.payload == b"online":
                            online.add(str(m.topic).split("/")[1])
                        if online >= set(DEVICE_OF.values()):
                            break
                house = Household(meter, battery, [EvSession(EV_START, EV_DURATION)])
                started = time.monotonic()

                async def count() -> None:
                    async for m in obs.messages:
                        topic = str(m.topic)
                        seen[topic] += 1
                        if topic == "wattbus/controller/state" and isinstance(m.payload, bytes):
                            charging = json.loads(m.payload).get("ev_charging")
                            seen[f"controller ev_charging={charging}"] += 1

                counter = asyncio.create_task(count())
                steps = int(seconds / STEP)
                for i in range(1, steps + 1):
                    house.step(i * STEP, STEP)
                    await asyncio.sleep(max(0.0, started + i * STEP - time.monotonic()))
                for name, p in procs.items():
                    if not p.alive():
                        raise RuntimeError(f"{name} died; see {p.log}:\n{p.log.read_text()}")
                    peaks[name] = (status_kb(p.pid, "VmHWM"), status_kb(p.pid, "VmRSS"))
                counter.cancel()
        finally:
            for p in procs.values():
                p.stop()
            await shelly.close()
            await zendure.close()
    writes = [int(w["properties"]["minSoc"]) for w in battery.writes if "minSoc" in w["properties"]]
    return peaks, seen, writes


def main(seconds: float) -> None:
    console.print(
        f"[bold]wattbus memory[/bold]: shelly, zendure and controller for {seconds:g} s against "
        f"the fakes, an EV charging from {EV_START:g} s to {EV_START + EV_DURATION:g} s",
        highlight=False,
    )
    with tempfile.TemporaryDirectory(prefix="wattbus-bench-") as tmp:
        workdir = Path(tmp)
        compiled = bytecode_env(workdir / "pycache")
        started = time.monotonic()
        compile_bytecode(workdir / "pycache")
        console.print(f"bytecode compiled in {time.monotonic() - started:.0f} s", highlight=False)
        peaks, seen, writes = asyncio.run(run(seconds, workdir, compiled))
        entry = run_imports()
        floors = {
            module: import_floor(f"{entry}, {module}", compiled)
            for module in ("wattbus_shelly.service", "wattbus_zendure.service",
                           "wattbus_controller.service")
        }  # fmt: skip
        floor_cli = import_floor(entry, compiled)
        source = bytecode_env(workdir / "empty") | {"PYTHONDONTWRITEBYTECODE": "1"}
        floor_source = import_floor(entry, source)
    table = Table(title="Peak RSS per service process (VmHWM)", title_justify="left")
    for col in ("service", "peak MiB", "now MiB", "target", ""):
        table.add_column(col, justify="left" if col in ("service", "target", "") else "right")
    for name, (hwm, rss) in peaks.items():
        mb = hwm / 1024
        ok = (
            "[green]met[/green]"
            if mb <= TARGET_MB
            else f"[red]missed by {mb - TARGET_MB:.1f}[/red]"
        )
        table.add_row(name, f"{mb:.1f}", f"{rss / 1024:.1f}", f"<= {TARGET_MB:g}", ok)
    table.add_row(f"[dim]for scale: python importing {entry} only[/dim]", f"{floor_cli:.1f}")
    for module, mb in floors.items():
        table.add_row(f"[dim]for scale: ... and {module}[/dim]", f"{mb:.1f}")
    table.add_row(
        f"[dim]for scale: {entry} compiled from source (no .pyc)[/dim]", f"{floor_source:.1f}"
    )
    console.print(table)
    held = sum(1 for w in writes if w == 1000)
    console.print(
        f"during the run: {seen['wattbus/grid-meter/state']} meter states, "
        f"{seen['wattbus/zendure/state']} battery states, "
        f"{seen['wattbus/controller/state']} controller states "
        f"({seen['controller ev_charging=True']} saying the EV charges); the fake Zendure got "
        f"{held} hold write(s) (minSoc 1000) and {len(writes) - held} other minSoc write(s)",
        highlight=False,
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=15.0, help="how long the services run")
    args = parser.parse_args()
    if not 5 <= args.seconds <= 120:
        parser.error("--seconds must be between 5 and 120")
    main(args.seconds)


if __name__ == "__main__":
    cli()
