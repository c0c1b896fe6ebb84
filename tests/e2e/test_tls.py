"""TLS to the broker: a service and the CLI verify the broker's certificate against the CA
they are given, and refuse a broker they cannot verify."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest
from support.broker import Broker, password
from wattbus_simulator.processes import ServiceProcess, bus_env


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Broker, Path]]:
    b = Broker(tmp_path, tls=True)
    ca = b.make_ca()
    b.start()
    yield b, ca
    b.stop()


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
    return subprocess.run(
        [sys.executable, "-m", "wattbus", *args],
        env=clean | env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


async def test_service_and_cli_over_tls(tls_broker: tuple[Broker, Path], tmp_path: Path) -> None:
    broker, ca = tls_broker
    tls = {"WATTBUS_MQTT_TLS": "true", "WATTBUS_MQTT_CA_FILE": str(ca)}
    controller = ServiceProcess(
        "controller",
        bus_env(broker.port, "controller", password("controller"))
        | tls
        | {"WATTBUS_CONTROLLER_STATE_DIR": str(tmp_path / "state")},
        tmp_path,
    )
    context = ssl.create_default_context(cafile=str(ca))
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, username="homeassistant",
        password=password("homeassistant"), tls_context=context,
    ) as watcher:  # fmt: skip
        await watcher.subscribe("wattbus/controller/availability")
        controller.start()
        try:
            async with asyncio.timeout(15):
                async for message in watcher.messages:
                    if message.payload == b"online":
                        break
            user = bus_env(broker.port, "cli", password("cli"))
            status = await asyncio.to_thread(cli, user | tls, "status")
            assert status.returncode == 0, status.stderr
            assert "controller" in status.stdout and "online" in status.stdout
            untrusted = await asyncio.to_thread(cli, user | {"WATTBUS_MQTT_TLS": "true"}, "status")
            assert untrusted.returncode == 1
            assert "broker" in untrusted.stderr
        finally:
            controller.stop()
