"""A fake myenergi cloud on loopback and the real client talking HTTP to it: every request,
whatever server pymyenergi means (the director, then the one it names), goes to the fake."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from wattbus_myenergi.client import Zappi
from wattbus_myenergi.transport import LoopbackTransport
from wattbus_simulator.fake_myenergi import FakeMyenergi, ZappiState, start_fake_myenergi


@pytest.fixture
def state() -> ZappiState:
    return ZappiState()


@pytest.fixture
async def fake(state: ZappiState) -> AsyncIterator[FakeMyenergi]:
    server = await start_fake_myenergi(state)
    yield server
    await server.close()


def client(fake: FakeMyenergi, *, key: str | None = None, serial: int | None = None) -> Zappi:
    state = fake.state
    return Zappi(
        state.hub_serial,
        key if key is not None else state.api_key,
        serial=serial,
        transport=LoopbackTransport(fake.port),
    )


@pytest.fixture
async def zappi(fake: FakeMyenergi) -> AsyncIterator[Zappi]:
    async with client(fake) as z:
        yield z
