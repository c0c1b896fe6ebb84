"""The Gen1 3EM client against the Gen1 fake over real HTTP on loopback, and sample answers."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from wattbus_shelly.client import ShellyPro3EM
from wattbus_shelly.exceptions import (
    DeviceConnectionError,
    DeviceResponseError,
    DeviceTimeoutError,
    InvalidAuthError,
    ShellyError,
)
from wattbus_shelly.gen1 import Shelly3EMGen1, meter_state
from wattbus_shelly.models import DeviceInfo, Gen1DeviceInfo, Gen1Status, identify
from wattbus_simulator.fake_shelly import FakeShelly, ShellyPro3EMState
from wattbus_simulator.fake_shelly_gen1 import FakeShelly3EMGen1, start_fake_shelly_gen1

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ANSWERS = Path(__file__).parent / "fixtures" / "gen1_3em_answers.json"
PRO_ANSWERS = Path(__file__).parent / "fixtures" / "pro3em_answers.json"


@pytest.fixture
def gen1_answers() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ANSWERS.read_text())
    return data


@pytest.fixture
async def gen1(state: ShellyPro3EMState) -> AsyncIterator[FakeShelly3EMGen1]:
    server = await start_fake_shelly_gen1(state)
    yield server
    await server.close()


@pytest.fixture
async def gen1_auth(state: ShellyPro3EMState, password: str) -> AsyncIterator[FakeShelly3EMGen1]:
    server = await start_fake_shelly_gen1(state, password=password)
    yield server
    await server.close()


def meter(fake: FakeShelly3EMGen1 | FakeShelly, **kwargs: Any) -> Shelly3EMGen1:
    return Shelly3EMGen1("127.0.0.1", port=fake.port, clock=lambda: NOW, **kwargs)


# --- readings ---------------------------------------------------------------------------------


async def test_read_gives_power_voltage_current_and_energy(gen1: FakeShelly3EMGen1) -> None:
    async with meter(gen1) as client:
        state = await client.read()

    assert state.ts == NOW
    assert state.power == round(812.4 + 95.1 - 1404.6, 2)  # the device's own total_power
    assert (state.power_l1, state.power_l2, state.power_l3) == (812.4, 95.1, -1404.6)
    assert (state.voltage_l1, state.voltage_l2, state.voltage_l3) == (230.2, 228.4, 230.8)
    assert state.current_l1 == round(812.4 / (230.2 * 0.9), 2)
    assert state.current_l2 == round(95.1 / (228.4 * 0.6), 2)
    # Wh, as the device counts them (one decimal), summed over the three phases
    assert state.energy_import == 1520333.1
    assert state.energy_export == round(12.3 + 731045.7, 3)


async def test_an_exporting_phase_has_negative_power_and_negative_current(
    gen1: FakeShelly3EMGen1,
) -> None:
    async with meter(gen1) as client:
        raw = await client.status()
        state = await client.read()

    assert raw.emeters[2].power < 0
    assert raw.emeters[2].current > 0  # the device's current has no sign
    assert state.power_l3 == -1404.6
    assert state.current_l3 == -raw.emeters[2].current
    assert state.current_l1 is not None and state.current_l1 > 0
    assert state.power < 0  # the house exports in total


async def test_energy_counters_are_wh_and_follow_the_household(
    gen1: FakeShelly3EMGen1, state: ShellyPro3EMState
) -> None:
    async with meter(gen1) as client:
        before = await client.read()
        state.add_energy(3600)  # one hour at the present power
        after = await client.read()

    assert before.energy_import is not None and after.energy_import is not None
    assert before.energy_export is not None and after.energy_export is not None
    # Wh, not kWh: an hour of 907.5 W imported is 907.5 more
    assert after.energy_import - before.energy_import == pytest.approx(812.4 + 95.1, abs=0.2)
    assert after.energy_export - before.energy_export == pytest.approx(1404.6, abs=0.2)


async def test_without_total_power_the_phases_are_summed(gen1: FakeShelly3EMGen1) -> None:
    gen1.total_power = False  # firmware before 1.10.5
    async with meter(gen1) as client:
        state = await client.read()

    assert state.power == round(812.4 + 95.1 - 1404.6, 3)


async def test_device_info_is_read_from_the_open_probe(gen1_auth: FakeShelly3EMGen1) -> None:
    async with meter(gen1_auth) as client:  # no credentials: /shelly needs none
        info = await client.device_info()

    assert (info.model, info.mac, info.auth) == ("SHEM-3", gen1_auth.state.mac, True)
    assert info.ver == "v1.14.0-gcb84623"
    assert info.name is None


async def test_host_may_carry_the_port(gen1: FakeShelly3EMGen1) -> None:
    async with Shelly3EMGen1(f"127.0.0.1:{gen1.port}") as client:
        info = await client.device_info()

    assert info.mac == gen1.state.mac


# --- is_valid ---------------------------------------------------------------------------------


async def test_an_invalid_phase_is_not_published_as_measured(
    gen1: FakeShelly3EMGen1, caplog: pytest.LogCaptureFixture
) -> None:
    gen1.invalid = {1}
    with caplog.at_level(logging.WARNING, logger="wattbus_shelly.gen1"):
        async with meter(gen1) as client:
            first = await client.read()
            second = await client.read()
            gen1.invalid = set()
            healed = await client.read()

    assert (first.power_l2, first.current_l2, first.voltage_l2) == (None, None, None)
    assert (first.power_l1, first.power_l3) == (812.4, -1404.6)
    assert first.power == round(812.4 - 1404.6, 3)  # the valid phases, not total_power
    assert (first.energy_import, first.energy_export) == (None, None)
    assert second == first
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "L2 is_valid false" in warnings[0]
    assert healed.power_l2 == 95.1
    assert healed.power == round(812.4 + 95.1 - 1404.6, 2)
    assert healed.energy_import == 1520333.1


async def test_no_valid_phase_is_no_reading(gen1: FakeShelly3EMGen1) -> None:
    gen1.invalid = {0, 1, 2}
    async with meter(gen1) as client:
        with pytest.raises(DeviceResponseError, match="no phase is valid"):
            await client.read()


# --- auth -------------------------------------------------------------------------------------


async def test_basic_auth_with_the_right_password(
    gen1_auth: FakeShelly3EMGen1, password: str
) -> None:
    async with meter(gen1_auth, password=password) as client:
        await client.read()
        asked = gen1_auth.requests
        state = await client.read()

    assert state.power_l3 == -1404.6
    assert gen1_auth.requests - asked == 1  # Basic is sent up front: no 401 round trip


async def test_a_username_other_than_admin(state: ShellyPro3EMState, password: str) -> None:
    server = await start_fake_shelly_gen1(state, username="meter", password=password)
    try:
        async with meter(server, username="meter", password=password) as client:
            assert (await client.read()).power_l1 == 812.4
        async with meter(server, password=password) as client:  # the default user, admin
            with pytest.raises(InvalidAuthError, match="wrong username or password"):
                await client.read()
    finally:
        await server.close()


async def test_wrong_password_is_invalid_auth(gen1_auth: FakeShelly3EMGen1) -> None:
    async with meter(gen1_auth, password="wrong") as client:
        with pytest.raises(InvalidAuthError, match="wrong username or password"):
            await client.read()


async def test_no_password_against_a_protected_device_is_invalid_auth(
    gen1_auth: FakeShelly3EMGen1,
) -> None:
    async with meter(gen1_auth) as client:
        with pytest.raises(InvalidAuthError, match="needs a username and password"):
            await client.read()


# --- failures ---------------------------------------------------------------------------------


async def test_http_500_is_a_response_error(gen1: FakeShelly3EMGen1) -> None:
    gen1.faults.status_500 = True
    async with meter(gen1) as client:
        with pytest.raises(DeviceResponseError, match="HTTP 500") as caught:
            await client.read()

    assert caught.value.status == 500
    assert caught.value.code is None  # Gen1 has no RPC error codes


async def test_malformed_json_is_a_response_error(gen1: FakeShelly3EMGen1) -> None:
    gen1.faults.malformed_json = True
    async with meter(gen1) as client:
        with pytest.raises(DeviceResponseError, match="unexpected answer"):
            await client.read()


async def test_a_slow_device_is_a_timeout(gen1: FakeShelly3EMGen1) -> None:
    gen1.faults.delay = 30.0  # ends when the fixture closes the fake
    async with meter(gen1, timeout=0.05) as client:
        with pytest.raises(DeviceTimeoutError):
            await client.read()


async def test_a_dropped_connection_is_a_connection_error(gen1: FakeShelly3EMGen1) -> None:
    gen1.faults.drop_connection = True
    async with meter(gen1) as client:
        with pytest.raises(DeviceConnectionError) as caught:
            await client.read()

    assert not isinstance(caught.value, DeviceTimeoutError)


async def test_connection_refused_is_a_connection_error(state: ShellyPro3EMState) -> None:
    closed = await start_fake_shelly_gen1(state)
    await closed.close()  # nothing listens on its port any more
    async with meter(closed) as client:
        with pytest.raises(DeviceConnectionError):
            await client.device_info()


async def test_the_client_recovers_when_the_fault_clears(gen1: FakeShelly3EMGen1) -> None:
    async with meter(gen1) as client:
        gen1.faults.status_500 = True
        with pytest.raises(DeviceResponseError):
            await client.read()
        gen1.faults.status_500 = False
        state = await client.read()

    assert state.power_l1 == 812.4


async def test_a_gen2_device_is_refused_with_a_hint(fake: FakeShelly) -> None:
    async with meter(fake) as client:
        with pytest.raises(DeviceResponseError, match=r"Gen2 device .* generation to auto or 2"):
            await client.device_info()


async def test_the_gen2_client_against_a_gen1_device_fails_as_a_device_error(
    gen1: FakeShelly3EMGen1,
) -> None:
    async with ShellyPro3EM("127.0.0.1", port=gen1.port) as client:
        with pytest.raises(ShellyError) as caught:
            await client.device_info()

    assert isinstance(caught.value, DeviceResponseError)
    assert caught.value.status == 404


# --- sample answers, no HTTP ------------------------------------------------------------------


def test_a_full_status_converts(gen1_answers: dict[str, Any]) -> None:
    status = Gen1Status.model_validate(gen1_answers["status"])  # wifi, relays... are ignored

    state = meter_state(status, NOW)

    assert state.power == -778.62
    assert (state.current_l1, state.current_l3) == (5.35, -9.88)
    assert state.voltage_l2 == 231.9
    assert (state.energy_import, state.energy_export) == (3466159.6, 1904803.2)


def test_firmware_without_total_power_converts(gen1_answers: dict[str, Any]) -> None:
    status = Gen1Status.model_validate(gen1_answers["status_before_1_10_5"])

    state = meter_state(status, NOW)

    assert status.total_power is None
    assert state.power == 230.0  # summed, without float noise (230.00000000000006)
    assert state.energy_import == 12250.9
    assert state.current_l3 == -1.82


def test_a_status_without_three_emeters_is_refused(gen1_answers: dict[str, Any]) -> None:
    two = gen1_answers["status"] | {"emeters": gen1_answers["status"]["emeters"][:2]}

    with pytest.raises(ValidationError):
        Gen1Status.model_validate(two)  # a Shelly EM (two channels), not a 3EM


def test_identify_tells_the_generations_apart(gen1_answers: dict[str, Any]) -> None:
    pro: dict[str, Any] = json.loads(PRO_ANSWERS.read_text())

    first = identify(json.dumps(gen1_answers["shelly"]).encode())
    second = identify(json.dumps(pro["shelly"]).encode())
    third = identify(json.dumps(pro["shelly"] | {"gen": 3}).encode())

    assert isinstance(first, Gen1DeviceInfo) and first.model == "SHEM-3"
    assert isinstance(second, DeviceInfo) and second.gen == 2
    assert isinstance(third, DeviceInfo) and third.gen == 3
    with pytest.raises(ValidationError):
        identify(b'{"hello": "world"}')
