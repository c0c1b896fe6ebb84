"""A fake plug on loopback per test, speaking to the real python-kasa: a Kasa on the legacy
protocol, a Tapo on KLAP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from wattbus_simulator.fake_kasa import FakeKasa, KasaPlugState, start_fake_kasa
from wattbus_simulator.fake_tapo import FakeTapo, TapoPlugState, start_fake_tapo


@pytest.fixture
def state() -> KasaPlugState:
    return KasaPlugState()


@pytest.fixture
async def fake(state: KasaPlugState) -> AsyncIterator[FakeKasa]:
    server = await start_fake_kasa(state)
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def tapo() -> AsyncIterator[FakeTapo]:
    server = await start_fake_tapo(TapoPlugState())
    try:
        yield server
    finally:
        await server.close()
