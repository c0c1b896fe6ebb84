"""A fake Tesla gateway over TLS on loopback, and the real client (pypowerwall in local mode)
talking to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.powerwall import local_gateway
from wattbus_powerwall.client import Gateway
from wattbus_simulator.fake_powerwall import FakePowerwall, PowerwallState, start_fake_powerwall


@pytest.fixture
def state() -> PowerwallState:
    """60 % in the app, reserve 20 %, self-powered, a 1.5 kW home and no sun; it takes local
    writes (a gateway that refuses them is the `writes = "refused"` tests' own)."""
    return PowerwallState(writes="accepted")


@pytest.fixture
async def fake(state: PowerwallState) -> AsyncIterator[FakePowerwall]:
    server = await start_fake_powerwall(state)
    yield server
    await server.close()


@pytest.fixture
async def gateway(fake: FakePowerwall, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with local_gateway(fake, tmp_path) as gw:
        await gw.connect()
        yield gw
