"""The client against the fake device over real HTTP on loopback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from wattbus_shelly.client import ShellyPro3EM, base_url, meter_state
from wattbus_shelly.exceptions import (
    DeviceConnectionError,
    DeviceResponseError,
    DeviceTimeoutError,
    InvalidAuthError,
)
from wattbus_shelly.models import EMDataStatus, EMStatus
from wattbus_simulator.fake_shelly import FakeShelly, ShellyPro3EMState, start_fake_shelly

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def meter(fake: FakeShelly, **kwargs: Any) -> ShellyPro3EM:
    return ShellyPro3EM("127.0.0.1", port=fake.port, clock=lambda: NOW, **kwargs)


async def test_read_gives_power_voltage_and_energy_in_suite_units(fake: FakeShelly) -> None:
    async with meter(fake) as client:
        state = await client.read()

    assert state.ts == NOW
    assert state.power == pytest.approx(812.4 + 95.1 - 1404.6)
    assert (state.power_l1, state.power_l2, state.power_l3) == (812.4, 95.1, -1404.6)
    assert (state.voltage_l1, state.voltage_l2, state.voltage_l3) == (230.2, 228.4, 230.8)
    assert state.current_l1 == pytest.approx(812.4 / (230.2 * 0.9), abs=1e-3)
    assert state.current_l2 == pytest.approx(95.1 / (228.4 * 0.6), abs=1e-3)
    assert state.energy_import == pytest.approx(1520333.12)  # Wh, not kWh
    assert state.energy_export == pytest.approx(12.31 + 731045.66)


async def test_an_exporting_phase_has_negative_power_and_negative_current(
    fake: FakeShelly,
) -> None:
    async with meter(fake) as client:
        em = await client.em_status()
        state = await client.read()

    assert em.c_current > 0  # the device's current has no sign
    assert state.power_l3 is not None and state.power_l3 < 0
    assert state.current_l3 == pytest.approx(-em.c_current)
    assert state.current_l1 is not None and state.current_l1 > 0


async def test_energy_counters_follow_the_simulated_household(
    fake: FakeShelly, state: ShellyPro3EMState
) -> None:
    async with meter(fake) as client:
        before = await client.read()
        state.add_energy(3600)  # one hour at the present power
        after = await client.read()

    assert before.energy_import is not None and after.energy_import is not None
    assert before.energy_export is not None and after.energy_export is not None
    assert after.energy_import - before.energy_import == pytest.approx(812.4 + 95.1, abs=0.02)
    assert after.energy_export - before.energy_export == pytest.approx(1404.6, abs=0.02)


async def test_device_info_needs_no_password(fake_auth: FakeShelly) -> None:
    async with meter(fake_auth) as client:
        info = await client.device_info()

    assert info.auth_en is True
    assert info.realm == fake_auth.state.device_id
    assert (info.gen, info.model, info.profile) == (2, "SPEM-003CEBEU", "triphase")


async def test_host_may_carry_the_port(fake: FakeShelly) -> None:
    async with ShellyPro3EM(f"127.0.0.1:{fake.port}") as client:
        info = await client.device_info()

    assert info.id == fake.state.device_id


async def test_digest_auth_with_the_right_password(fake_auth: FakeShelly, password: str) -> None:
    async with meter(fake_auth, password=password) as client:
        first = await client.read()
        challenged = fake_auth.requests
        await client.read()

    assert first.power_l3 == -1404.6
    # The nonce is reused with a growing nc (firmware 2.0.0+): later reads cost no new 401.
    assert fake_auth.requests - challenged == 2


async def test_wrong_password_is_invalid_auth(fake_auth: FakeShelly) -> None:
    async with meter(fake_auth, password="wrong") as client:
        with pytest.raises(InvalidAuthError, match="wrong password"):
            await client.read()


async def test_no_password_against_a_protected_device_is_invalid_auth(
    fake_auth: FakeShelly,
) -> None:
    async with meter(fake_auth) as client:
        with pytest.raises(InvalidAuthError, match="needs a password"):
            await client.em_status()


async def test_http_500_is_a_response_error(fake: FakeShelly) -> None:
    fake.faults.status_500 = True
    async with meter(fake) as client:
        with pytest.raises(DeviceResponseError) as caught:
            await client.read()

    assert caught.value.status == 500
    assert caught.value.code == -114


async def test_malformed_json_is_a_response_error(fake: FakeShelly) -> None:
    fake.faults.malformed_json = True
    async with meter(fake) as client:
        with pytest.raises(DeviceResponseError, match="unexpected answer"):
            await client.em_status()


async def test_a_slow_device_is_a_timeout(fake: FakeShelly) -> None:
    fake.faults.delay = 30.0  # ends when the fixture closes the fake
    async with meter(fake, timeout=0.05) as client:
        with pytest.raises(DeviceTimeoutError):
            await client.read()


async def test_a_dropped_connection_is_a_connection_error(fake: FakeShelly) -> None:
    fake.faults.drop_connection = True
    async with meter(fake) as client:
        with pytest.raises(DeviceConnectionError) as caught:
            await client.em_status()

    assert not isinstance(caught.value, DeviceTimeoutError)


async def test_connection_refused_is_a_connection_error(state: ShellyPro3EMState) -> None:
    closed = await start_fake_shelly(state)
    await closed.close()  # nothing listens on its port any more
    async with meter(closed) as client:
        with pytest.raises(DeviceConnectionError):
            await client.read()


async def test_the_client_recovers_when_the_fault_clears(fake: FakeShelly) -> None:
    async with meter(fake) as client:
        fake.faults.status_500 = True
        with pytest.raises(DeviceResponseError):
            await client.read()
        fake.faults.status_500 = False
        state = await client.read()

    assert state.power_l1 == 812.4


def test_the_sample_answers_convert(answers: dict[str, Any]) -> None:
    em = EMStatus.model_validate(answers["em:0"])
    data = EMDataStatus.model_validate(answers["emdata:0"])

    state = meter_state(em, data, NOW)

    assert state.power == -497.112
    assert state.current_l3 == -6.148
    assert state.current_l2 == 0.694
    assert (state.energy_import, state.energy_export) == (1848853.69, 731057.97)


def test_unknown_keys_and_error_arrays_are_tolerated(answers: dict[str, Any]) -> None:
    em = EMStatus.model_validate(answers["em:0"] | {"errors": ["no_load"], "new_key": 1})

    assert em.errors == ["no_load"]


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 80, "http://127.0.0.1"),
        ("127.0.0.1:8080", 80, "http://127.0.0.1:8080"),
        ("127.0.0.1", 8080, "http://127.0.0.1:8080"),
        ("fe80::1", 80, "http://[fe80::1]"),
        ("[fe80::1]:8080", 80, "http://[fe80::1]:8080"),
        ("shelly.local", 80, "http://shelly.local"),
    ],
)
def test_base_url(host: str, port: int, url: str) -> None:
    assert str(base_url(host, port)) == url


@pytest.mark.parametrize("host", ["http://127.0.0.1", "127.0.0.1/rpc", "", "a:b:c"])
def test_base_url_rejects_what_is_not_a_host(host: str) -> None:
    with pytest.raises(ValueError, match="not a host"):
        base_url(host)


def test_base_url_rejects_two_different_ports() -> None:
    with pytest.raises(ValueError, match="two ports"):
        base_url("127.0.0.1:8080", 8081)
