"""A fake SolarFlow on loopback and a real client talking HTTP to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from wattbus_simulator.fake_zendure import FakeZendure, ZendureState, start_fake_zendure
from wattbus_zendure.client import SolarFlow


@pytest.fixture
def state() -> ZendureState:
    """A SolarFlow 2400 AC with a 15 % floor and an 800 W output limit."""
    state = ZendureState()
    state.properties["minSoc"] = 150
    state.properties["outputLimit"] = 800
    return state


@pytest.fixture
async def fake(state: ZendureState) -> AsyncIterator[FakeZendure]:
    server = await start_fake_zendure(state)
    yield server
    await server.close()


@pytest.fixture
async def flow(fake: FakeZendure) -> AsyncIterator[SolarFlow]:
    async with SolarFlow(fake.host, port=fake.port) as client:
        yield client


@pytest.fixture
def hold_file(tmp_path: Path) -> Path:
    return tmp_path / "zendure-hold.json"
