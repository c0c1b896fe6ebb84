"""The suite is sealed from the user's own settings: it reads no `WATTBUS_*` from the
environment and no `.env` (the home guide's first step writes one in the checkout, naming real
devices), and reaches no broker it did not start. Whatever a test needs, it passes itself."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from support.broker import Broker
from support.home import Home
from wattbus_simulator.fake_shelly import (
    FakeShelly,
    ShellyPhase,
    ShellyPro3EMState,
    start_fake_shelly,
)
from wattbus_simulator.fake_zendure import FakeZendure, ZendureState, start_fake_zendure

# Before any test, and before any subprocess inherits them.
for _name in [n for n in os.environ if n.startswith("WATTBUS_")]:
    del os.environ[_name]


@pytest.fixture(scope="session", autouse=True)
def away_from_the_users_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run from an empty folder: a relative path anything resolves (settings' `.env`, the
    default state folder `var`) lands there, not in the checkout, for the tests and for every
    process they start without a folder of its own."""
    before = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(before)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One Mosquitto for the whole run; tests use distinct device ids where they must not meet."""
    b = Broker(tmp_path_factory.mktemp("mosquitto"))
    b.start()
    yield b
    b.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker of the test's own, for tests that stop and restart it."""
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


@pytest.fixture
async def devices() -> AsyncIterator[tuple[FakeShelly, FakeZendure]]:
    """A house at 450 W and a battery at minSoc 15 %, outputLimit 800 W, on loopback."""
    meter = ShellyPro3EMState(phases=[ShellyPhase(act_power=150.0) for _ in range(3)])
    battery = ZendureState()
    battery.properties.update(minSoc=150, outputLimit=800)
    shelly = await start_fake_shelly(meter)
    zendure = await start_fake_zendure(battery)
    try:
        yield shelly, zendure
    finally:
        await shelly.close()
        await zendure.close()


@pytest.fixture
async def home(
    own_broker: Broker, devices: tuple[FakeShelly, FakeZendure], tmp_path: Path
) -> AsyncIterator[Home]:
    h = Home(own_broker, *devices, tmp_path)
    try:
        yield h
    finally:
        for p in h.procs.values():
            p.stop()
