"""A fake NRGKICK on loopback (both of its APIs) and the real clients talking HTTP to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from wattbus_nrgkick.connect import Connect
from wattbus_nrgkick.gen2 import Gen2
from wattbus_simulator.fake_nrgkick import FakeNrgkick, NrgkickState, start_fake_nrgkick


@pytest.fixture
def state() -> NrgkickState:
    return NrgkickState()


@pytest.fixture
async def fake(state: NrgkickState) -> AsyncIterator[FakeNrgkick]:
    server = await start_fake_nrgkick(state)
    yield server
    await server.close()


@pytest.fixture
async def gen2(fake: FakeNrgkick) -> AsyncIterator[Gen2]:
    async with Gen2(fake.url) as client:
        yield client


@pytest.fixture
async def connect(fake: FakeNrgkick) -> AsyncIterator[Connect]:
    async with Connect(fake.url, fake.state.mac, fake.state.connect_password) as client:
        yield client
