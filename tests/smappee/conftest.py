"""A fake Smappee cloud on loopback, on a clock the test moves, and the real client talking
HTTP to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from support.clock import FakeClock
from wattbus_simulator.fake_smappee import FakeSmappee
from wattbus_smappee.client import Login, SmappeeClient

START = datetime(2026, 6, 21, 12, 0, 10, tzinfo=UTC)
LOGIN = Login("wattbus", "secret", "owner", "pass")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeSmappee]:
    server = FakeSmappee(clock=clock.now)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def client(fake: FakeSmappee, clock: FakeClock) -> AsyncIterator[SmappeeClient]:
    async with SmappeeClient(fake.api, LOGIN, clock=clock.now) as c:
        yield c
