"""A fake Kasa plug on loopback per test, speaking the legacy protocol to the real python-kasa."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from wattbus_simulator.fake_kasa import FakeKasa, KasaPlugState, start_fake_kasa


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
