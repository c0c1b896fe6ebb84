"""The shared hold against two batteries: the model gateway (text operation and percent
reserve, in memory) and a fake SolarFlow on loopback through the Zendure bridge's port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.model_battery import Gateway, GatewayPort
from wattbus_simulator.fake_zendure import FakeZendure, ZendureState, start_fake_zendure
from wattbus_zendure.client import SolarFlow
from wattbus_zendure.port import SolarFlowPort


@pytest.fixture
def gateway() -> Gateway:
    return Gateway()


@pytest.fixture
def port(gateway: Gateway) -> GatewayPort:
    return GatewayPort(gateway)


@pytest.fixture
def hold_file(tmp_path: Path) -> Path:
    return tmp_path / "battery.hold.json"


@pytest.fixture
def state() -> ZendureState:
    """A SolarFlow 2400 AC with a 15 % floor and an 800 W output limit."""
    state = ZendureState()
    state.properties["minSoc"] = 150
    state.properties["outputLimit"] = 800
    return state


@pytest.fixture
async def solarflow(state: ZendureState) -> AsyncIterator[SolarFlowPort]:
    fake: FakeZendure = await start_fake_zendure(state)
    try:
        async with SolarFlow(fake.host, port=fake.port) as flow:
            yield SolarFlowPort(flow)
    finally:
        await fake.close()
