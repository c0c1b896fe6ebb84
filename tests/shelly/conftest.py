"""A fake Pro 3EM on loopback per test, with a household that imports on L1/L2 and exports on L3;
over HTTP, or pushing through its own MQTT client to a broker of the test's own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from support.broker import Broker
from support.broker import password as user_password
from support.shelly_push import DEVICE_USER, PREFIX
from wattbus_simulator.fake_shelly import (
    FakeShelly,
    ShellyPhase,
    ShellyPro3EMState,
    start_fake_shelly,
)
from wattbus_simulator.fake_shelly_mqtt import FakeShellyMqtt

ANSWERS = Path(__file__).parent / "fixtures" / "pro3em_answers.json"


@pytest.fixture
def answers() -> dict[str, Any]:
    """Device answers with the device's own field names, keyed like `Shelly.GetStatus`."""
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


HOUR = 3600.0  # s: a periodic report or energy push that never comes within a test

MakeDevice = Callable[..., FakeShellyMqtt]


@pytest.fixture
async def make_device(own_broker: Broker, state: ShellyPro3EMState) -> AsyncIterator[MakeDevice]:
    """Fake devices publishing `state` under PREFIX, not started; closed after the test. The
    broker is the test's own: a device's retained `online` must not leak into the next test."""
    made: list[FakeShellyMqtt] = []

    def make(*, periodic: float = HOUR, energy_every: float = HOUR) -> FakeShellyMqtt:
        fake = FakeShellyMqtt(
            state,
            own_broker.port,
            prefix=PREFIX,
            username=DEVICE_USER,
            password=user_password(DEVICE_USER),
            periodic=periodic,
            energy_every=energy_every,
        )
        made.append(fake)
        return fake

    yield make
    for fake in made:
        await fake.close()


@pytest.fixture
def device(make_device: MakeDevice) -> FakeShellyMqtt:
    """A fake device that pushes only on a threshold (or when told), not started."""
    return make_device()
