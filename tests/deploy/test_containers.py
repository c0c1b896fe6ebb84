"""The image and compose.yaml, run for real: `make image-check` on a machine with a container
engine (Docker, or Podman's Docker API) and the compose plugin. Not part of `make test`: it
builds an image, and the machines `make test` runs on have no engine.

What runs is the user's own set-up, from a copy of the repository: `make broker-users`, a `.env`
from `.env.example`, `docker compose up --build` with the shelly and zendure profiles. Only
what must change to stay on loopback changes, in an override file: every container uses the
host's network, and the broker listens on 127.0.0.1 on a free port instead of 1883 on every
interface. The fake Shelly and the fake Zendure run in this process, on loopback, and an EV
session must hold the battery and give it back its settings, as in tests/e2e.

`IMAGE_CHECK_IMAGE=<image>` checks an image built or pulled before instead of building one:
a release, or another architecture's build (an arm64 image runs on an amd64 machine under QEMU's
binfmt emulation), so the Raspberry Pi's image can be checked end to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import yaml
from support.broker import REPO, free_port
from support.home import battery_held, battery_released, set_house_power
from support.mqtt import Observer, observing
from wattbus_simulator.fake_shelly import FakeShelly
from wattbus_simulator.fake_zendure import FakeZendure

pytestmark = [pytest.mark.container, pytest.mark.timeout(1200)]

UP = 900.0  # s: building the image downloads every dependency
SEEN = 60.0  # s for a container's first state, or its health, to show
COPIED = (
    "compose.yaml", "Dockerfile", ".dockerignore", "pyproject.toml", "uv.lock", ".env.example"
)  # fmt: skip
COPIED_DIRS = ("shared", "services", "mosquitto", "scripts")
SERVICES = ("mosquitto", "controller", "shelly", "zendure")
GIVEN = os.environ.get("IMAGE_CHECK_IMAGE")  # an image to check instead of building one
BUILT = "wattbus:image-check"


def run(*args: str, cwd: Path, timeout: float = SEEN) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr[-4000:]}")
    return done.stdout


def engine() -> str:
    """`docker` or `podman` (behind its Docker API); skips the test when there is neither."""
    if shutil.which("docker") is None:
        pytest.skip("no docker command")
    try:
        version = subprocess.run(
            ["docker", "version", "--format", "{{json .Server}}"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        compose = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.skip("the container engine does not answer")
    if version.returncode != 0:
        pytest.skip("no container engine reachable (docker version)")
    if compose.returncode != 0:
        pytest.skip("no compose plugin (docker compose version)")
    return "podman" if "podman" in version.stdout.lower() else "docker"


def project(tmp: Path, broker_port: int, shelly_port: int, zendure_port: int) -> Path:
    """A copy of the repository as a user has it after the README's set-up steps."""
    root = tmp / "wattbus"
    root.mkdir()
    for name in COPIED:
        shutil.copy2(REPO / name, root / name)
    skip = shutil.ignore_patterns(".venv", "__pycache__", "*.pyc", "passwd", "users", "certs")
    for name in COPIED_DIRS:
        shutil.copytree(REPO / name, root / name, ignore=skip)

    env = (root / ".env.example").read_text()
    env = re.sub(r"(?m)^WATTBUS_SHELLY_HOST=.*$", "WATTBUS_SHELLY_HOST=127.0.0.1", env)
    env = re.sub(r"(?m)^WATTBUS_ZENDURE_HOST=.*$", "WATTBUS_ZENDURE_HOST=127.0.0.1", env)
    env += (
        f"WATTBUS_SHELLY_PORT={shelly_port}\n"
        f"WATTBUS_ZENDURE_PORT={zendure_port}\n"
        "WATTBUS_ZENDURE_POLL_INTERVAL=1\n"
        "WATTBUS_CONTROLLER_CONFIRM=1\n"
        "WATTBUS_CONTROLLER_RELEASE=2\n"
        f"WATTBUS_IMAGE={GIVEN or BUILT}\n"
    )
    (root / ".env").write_text(env)
    run(str(root / "scripts" / "broker-users"), cwd=root)

    conf = root / "mosquitto" / "mosquitto.conf"
    listener = f"listener {broker_port} 127.0.0.1"
    text, moved = re.subn(r"(?m)^listener 1883$", listener, conf.read_text())
    assert moved == 1, "mosquitto.conf has one plain listener on 1883"
    conf.write_text(text)

    compose = yaml.safe_load((root / "compose.yaml").read_text())
    test = compose["services"]["mosquitto"]["healthcheck"]["test"]
    here = {"network_mode": "host"}
    mqtt = {"WATTBUS_MQTT_HOST": "127.0.0.1", "WATTBUS_MQTT_PORT": str(broker_port)}
    override: dict[str, Any] = {
        "services": {
            "mosquitto": {
                **here,
                "healthcheck": {"test": [p.replace("-p 1883", f"-p {broker_port}") for p in test]},
            },
            **{name: {**here, "environment": mqtt} for name in SERVICES[1:]},
        }
    }
    # host networking publishes no ports; `!reset` drops the base file's mapping
    text = yaml.safe_dump(override, sort_keys=False)
    text = text.replace("  mosquitto:\n", "  mosquitto:\n    ports: !reset []\n", 1)
    (root / "compose.check.yaml").write_text(text)
    return root


class Stack:
    def __init__(self, root: Path, kind: str) -> None:
        self.root = root
        self.kind = kind
        self.name = re.sub(r"[^a-z0-9-]", "-", f"wattbus-check-{root.parent.name.lower()}")

    def compose(self, *args: str, timeout: float = SEEN) -> str:
        files = ("-f", "compose.yaml", "-f", "compose.check.yaml")
        return run("docker", "compose", "-p", self.name, *files, *args, cwd=self.root,
                   timeout=timeout)  # fmt: skip

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).strip()

    def health(self, service: str) -> str:
        ident = self.container(service)
        if not ident:
            return "missing"
        out = run("docker", "inspect", "--format", "{{json .State.Health}}", ident, cwd=self.root)
        status = json.loads(out) or {}
        return str(status.get("Status", "none"))

    def pump_health(self, stop: threading.Event) -> None:
        """Podman without systemd schedules no healthchecks: run each one now and then, as
        Docker's daemon would, so `depends_on: service_healthy` can be met."""
        while not stop.wait(2.0):
            for service in SERVICES:
                with contextlib.suppress(Exception):
                    ident = self.container(service)
                    if ident:
                        subprocess.run(["podman", "healthcheck", "run", ident],
                                       capture_output=True, timeout=SEEN)  # fmt: skip

    @contextlib.asynccontextmanager
    async def up(self) -> AsyncIterator[None]:
        stop = threading.Event()
        pump = threading.Thread(target=self.pump_health, args=(stop,), daemon=True)
        if self.kind == "podman":
            pump.start()
        try:
            how = ("--no-build", "--pull", "never") if GIVEN else ("--build",)
            await asyncio.to_thread(self.compose, "up", "-d", *how, timeout=UP)
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                print(await asyncio.to_thread(self.compose, "logs", "--no-color", "--tail", "60"))
            raise
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.compose, "down", "-v", "--remove-orphans", timeout=120)


@contextlib.asynccontextmanager
async def homeassistant(root: Path, port: int) -> AsyncIterator[Observer]:
    secret = (root / "secrets" / "homeassistant.password").read_text().strip()
    async with (
        aiomqtt.Client("127.0.0.1", port, username="homeassistant", password=secret) as client,
        observing(client, "wattbus/#") as seen,
    ):
        yield seen


async def test_compose_up_runs_the_suite_from_the_image(
    devices: tuple[FakeShelly, FakeZendure], tmp_path: Path
) -> None:
    kind = engine()
    shelly, zendure = devices
    broker_port = free_port()
    root = project(tmp_path, broker_port, shelly.port, zendure.port)
    stack = Stack(root, kind)
    async with stack.up(), homeassistant(root, broker_port) as seen:
        for device in ("controller", "grid-meter", "zendure"):
            await seen.wait_for(
                f"wattbus/{device}/availability", lambda m: m.text == "online", within=SEEN
            )
        state = "wattbus/zendure/state"
        await seen.wait_for(state, lambda m: m.json["min_soc"] == 15.0, within=SEEN)

        set_house_power(shelly, 9000)
        await seen.wait_for(state, battery_held, within=SEEN)
        assert zendure.state.properties["minSoc"] == 1000

        set_house_power(shelly, 600)
        mark = seen.mark()
        await seen.wait_for(state, battery_released, after=mark, within=SEEN)
        assert zendure.state.properties["minSoc"] == 150
        assert zendure.state.properties["outputLimit"] == 800

        for service in SERVICES:
            async with asyncio.timeout(SEEN):
                while (status := await asyncio.to_thread(stack.health, service)) != "healthy":
                    assert status in ("starting", "healthy"), f"{service}: {status}"
                    await asyncio.sleep(1.0)
