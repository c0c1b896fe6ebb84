"""The fake inverter behaves as the real one does where the bridge depends on it: one client at
a time, scale factors that change between readings, registers outside its blocks refused."""

from __future__ import annotations

import pytest
from wattbus_simulator.fake_solaredge import METER, METER_COUNT, SUNS, FakeSolarEdge
from wattbus_solaredge.client import SolarEdge, SolarEdgeError


async def test_sunspec_marker_and_changing_scale_factors(fake: FakeSolarEdge) -> None:
    fake.readings.grid_power = [-1000.0, 0.0, 0.0]  # exporting
    async with SolarEdge("127.0.0.1", port=fake.port) as client:
        assert await client.read_registers(SUNS, 2) == [0x5375, 0x6E53]  # "SunS"
        first = await client.read_registers(METER, METER_COUNT)
        second = await client.read_registers(METER, METER_COUNT)
    sf_at = 40210 - METER
    assert first[sf_at] != second[sf_at]
    for words in (first, second):  # the same 1000 W export either way
        sf = words[sf_at] - 0x10000 if words[sf_at] & 0x8000 else words[sf_at]
        assert words[40206 - METER] * 10.0**sf == 1000.0


async def test_a_second_client_is_turned_away(fake: FakeSolarEdge) -> None:
    async with SolarEdge("127.0.0.1", port=fake.port) as first:
        await first.read_registers(SUNS, 2)
        async with SolarEdge("127.0.0.1", port=fake.port) as second:
            with pytest.raises(SolarEdgeError):
                await second.read_registers(SUNS, 2)
        assert await first.read_registers(SUNS, 2) == [0x5375, 0x6E53]


async def test_an_address_outside_the_map_is_refused(fake: FakeSolarEdge) -> None:
    async with SolarEdge("127.0.0.1", port=fake.port) as client:
        with pytest.raises(SolarEdgeError, match="refused"):
            await client.read_registers(40500, 2)
