"""The Gen1 Shelly 3EM fake: `/status` emeters, Basic auth, and the open `/shelly` probe."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from wattbus_simulator.fake_shelly import ShellyPro3EMState
from wattbus_simulator.fake_shelly_gen1 import FakeShelly3EMGen1, start_fake_shelly_gen1


@pytest.fixture
async def gen1(state: ShellyPro3EMState, password: str) -> AsyncIterator[FakeShelly3EMGen1]:
    server = await start_fake_shelly_gen1(state, password=password)
    yield server
    await server.close()


async def test_status_gives_three_emeters_and_the_total(
    gen1: FakeShelly3EMGen1, password: str
) -> None:
    async with httpx.AsyncClient(base_url=gen1.url, auth=("admin", password)) as http:
        status = (await http.get("/status")).json()
        third = (await http.get("/emeter/2")).json()

    emeters = status["emeters"]
    assert [set(e) for e in emeters] == [
        {"power", "pf", "current", "voltage", "is_valid", "total", "total_returned"}
    ] * 3
    assert emeters[2] == third
    assert third["power"] == -1404.6
    assert third["current"] > 0
    assert third["total_returned"] == 731045.7  # Wh
    assert status["total_power"] == round(812.4 + 95.1 - 1404.6, 2)


async def test_basic_auth_guards_status_but_not_the_probe(gen1: FakeShelly3EMGen1) -> None:
    async with httpx.AsyncClient(base_url=gen1.url, auth=("admin", "wrong")) as http:
        refused = await http.get("/status")
        probe = await http.get("/shelly")

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic ")
    assert probe.status_code == 200
    assert "gen" not in probe.json()
    assert probe.json()["auth"] is True
    assert probe.json()["num_emeters"] == 3


async def test_an_open_gen1_needs_no_credentials(state: ShellyPro3EMState) -> None:
    server = await start_fake_shelly_gen1(state)
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/status")).status_code == 200
            assert (await http.get("/emeter/3")).status_code == 404
    finally:
        await server.close()
