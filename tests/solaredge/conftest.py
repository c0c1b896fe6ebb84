"""A fake SolarEdge inverter (meter and StorEdge battery) on loopback per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from wattbus_simulator.fake_solaredge import FakeSolarEdge


@pytest.fixture
async def fake() -> AsyncIterator[FakeSolarEdge]:
    device = FakeSolarEdge()
    await device.start()
    try:
        yield device
    finally:
        await device.close()
