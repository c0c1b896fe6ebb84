"""A fake Pro 3EM on loopback per test, with a household that imports on L1/L2 and exports on L3."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from wattbus_simulator.fake_shelly import (
    FakeShelly,
    ShellyPhase,
    ShellyPro3EMState,
    start_fake_shelly,
)

ANSWERS = Path(__file__).parent / "fixtures" / "pro3em_answers.json"


@pytest.fixture
def answers() -> dict[str, Any]:
    """Device answers with the DEVICES.md field names, keyed like `Shelly.GetStatus`."""
    data: dict[str, Any] = json.loads(ANSWERS.read_text())
    return data


@pytest.fixture
def password() -> str:
    return "correct horse"


@pytest.fixture
def state() -> ShellyPro3EMState:
    return ShellyPro3EMState(
        phases=[
            ShellyPhase(act_power=812.4, voltage=230.2, pf=0.9, total_act_energy=1520333.12),
            ShellyPhase(act_power=95.1, voltage=228.4, pf=0.6, total_act_ret_energy=12.31),
            ShellyPhase(act_power=-1404.6, voltage=230.8, pf=0.99, total_act_ret_energy=731045.66),
        ]
    )


@pytest.fixture
async def fake(state: ShellyPro3EMState) -> AsyncIterator[FakeShelly]:
    server = await start_fake_shelly(state)
    yield server
    await server.close()


@pytest.fixture
async def fake_auth(state: ShellyPro3EMState, password: str) -> AsyncIterator[FakeShelly]:
    server = await start_fake_shelly(state, password=password)
    yield server
    await server.close()
