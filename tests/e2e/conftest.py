"""Fixtures for whole-home tests: a private broker per test, fakes, services as processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from support.broker import Broker
from support.home import Home
from wattbus_simulator.fake_shelly import ShellyPhase, ShellyPro3EMState, start_fake_shelly
from wattbus_simulator.fake_zendure import ZendureState, start_fake_zendure


@pytest.fixture
def own_broker_e2e(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


@pytest.fixture
async def home(own_broker_e2e: Broker, tmp_path: Path) -> AsyncIterator[Home]:
    meter = ShellyPro3EMState(phases=[ShellyPhase(act_power=150.0) for _ in range(3)])
    battery = ZendureState()
    battery.properties.update(minSoc=150, outputLimit=800)
    shelly = await start_fake_shelly(meter)
    zendure = await start_fake_zendure(battery)
    h = Home(own_broker_e2e, shelly, zendure, tmp_path)
    try:
        yield h
    finally:
        for p in h.procs.values():
            p.stop()
        await shelly.close()
        await zendure.close()
