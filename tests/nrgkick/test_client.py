"""The clients against the fake charger over HTTP: what each endpoint answers, and the
errors a user must be able to tell apart."""

from __future__ import annotations

import pytest
from support.broker import free_port
from wattbus_nrgkick.connect import Connect
from wattbus_nrgkick.exceptions import NrgkickAuthError, NrgkickError, NrgkickRefused
from wattbus_nrgkick.gen2 import Gen2
from wattbus_simulator.fake_nrgkick import SOLAR_BLOCK, FakeNrgkick


async def test_gen2_reads_numbers_with_raw_and_only_the_sections_asked(gen2: Gen2) -> None:
    values = await gen2.values()
    assert set(values) == {"energy", "powerflow", "general"}
    assert values["general"]["status"] == 1  # raw: STANDBY as its number
    assert set(await gen2.info()) == {"general", "connector", "versions"}
    assert await gen2.control() == {
        "current_set": 16.0, "charge_pause": 0, "energy_limit": 0, "phase_count": 3}  # fmt: skip


async def test_gen2_writes_go_as_query_parameters(gen2: Gen2, fake: FakeNrgkick) -> None:
    await gen2.set_current(7.5)
    await gen2.set_charge_pause(True)
    assert fake.faults.writes == ["current_set=7.5", "charge_pause=1"]
    assert (fake.state.current_set, fake.state.charge_pause) == (7.5, 1)


async def test_gen2_refusal_carries_the_chargers_words(gen2: Gen2, fake: FakeNrgkick) -> None:
    fake.state.solar_charging = True
    with pytest.raises(NrgkickRefused, match=SOLAR_BLOCK):
        await gen2.set_phase_count(1)
    assert fake.state.phase_count == 3


async def test_gen2_login(fake: FakeNrgkick) -> None:
    fake.state.username, fake.state.password = "admin", "secret"
    async with Gen2(fake.url) as anonymous, Gen2(fake.url, auth=("admin", "secret")) as known:
        with pytest.raises(NrgkickAuthError, match="401"):
            await anonymous.values()
        assert "general" in await known.values()


async def test_gen2_unreachable_is_an_error() -> None:
    async with Gen2(f"http://127.0.0.1:{free_port()}", timeout=1.0) as client:
        with pytest.raises(NrgkickError):
            await client.control()


async def test_connect_put_carries_the_password_as_text(
    connect: Connect, fake: FakeNrgkick
) -> None:
    await connect.put_settings(False, 9)
    assert '"DeviceMetadata": {"Password": "0000"}' in fake.faults.writes[0]
    settings = await connect.settings()
    assert settings["Values"]["ChargingStatus"]["Charging"] is False
    assert settings["Values"]["ChargingCurrent"]["Value"] == 9


async def test_connect_without_a_charger_in_reach(connect: Connect, fake: FakeNrgkick) -> None:
    assert await connect.measurements() == {"Message": "No content found for this request"}
    fake.faults.status = 503
    with pytest.raises(NrgkickError, match="503"):
        await connect.settings()
