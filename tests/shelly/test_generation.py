"""Choosing the generation: the `/shelly` probe against both fakes, the setting, and a bridge
that starts while the device is down and picks it up once it answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from support.broker import Broker
from support.mqtt import bus_settings, observer
from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.models import Command, MeterState
from wattbus.settings import BusSettings
from wattbus.stopping import stop
from wattbus_shelly.client import ShellyPro3EM
from wattbus_shelly.exceptions import DeviceConnectionError, InvalidAuthError, ShellyError
from wattbus_shelly.gen1 import Shelly3EMGen1
from wattbus_shelly.service import (
    ENTITIES,
    PLACEHOLDER_MODEL,
    AutoShelly,
    ShellyDevice,
    open_client,
    serve,
)
from wattbus_shelly.settings import ShellySettings
from wattbus_simulator.fake_shelly import FakeShelly, ShellyPro3EMState
from wattbus_simulator.fake_shelly_gen1 import FakeShelly3EMGen1, start_fake_shelly_gen1

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def gen1(state: ShellyPro3EMState) -> AsyncIterator[FakeShelly3EMGen1]:
    server = await start_fake_shelly_gen1(state)
    yield server
    await server.close()


def auto(fake: FakeShelly3EMGen1 | FakeShelly, **kwargs: Any) -> AutoShelly:
    return AutoShelly("127.0.0.1", port=fake.port, clock=lambda: NOW, **kwargs)


def bridge_for(device: ShellyDevice) -> Bridge[MeterState, Command]:
    """A real bridge whose bus never connects: publishing is a no-op, polling is real."""
    bus = Bus(BusSettings.only(discovery=False, offline_after=1), device.device_id)
    return Bridge(
        bus, device, entities=ENTITIES, command_model=None, errors=(ShellyError,), interval=1.0
    )


# --- the probe --------------------------------------------------------------------------------


async def test_auto_picks_gen1_and_probes_once(gen1: FakeShelly3EMGen1) -> None:
    async with auto(gen1) as client:
        assert client.generation is None  # nothing sent yet
        info = await client.device_info()
        first = await client.read()
        await client.read()

    assert client.generation == 1
    assert (info.model, info.mac) == ("SHEM-3", gen1.state.mac)
    assert first.power_l3 == -1404.6 and first.current_l3 is not None and first.current_l3 < 0
    assert first.energy_import == 1520333.1
    assert gen1.requests == 3  # one /shelly, then one /status per reading


async def test_auto_picks_gen2_and_probes_once(fake: FakeShelly) -> None:
    async with auto(fake) as client:
        info = await client.device_info()
        first = await client.read()
        await client.read()

    assert client.generation == 2
    assert (info.model, info.mac) == ("SPEM-003CEBEU", fake.state.mac)
    assert first.power_l3 == -1404.6
    assert first.energy_import == pytest.approx(1520333.12)
    assert fake.calls["EM.GetStatus"] == 2
    assert "Shelly.GetDeviceInfo" not in fake.calls  # the probe's /shelly answer is reused
    assert fake.requests == 1 + 2 * 2


async def test_auto_with_passwords_of_each_generation(
    state: ShellyPro3EMState, fake_auth: FakeShelly, password: str
) -> None:
    gen1_auth = await start_fake_shelly_gen1(state, username="meter", password=password)
    try:
        async with auto(gen1_auth, username="meter", password=password) as client:
            assert (await client.read()).power_l1 == 812.4
        async with auto(fake_auth, username="meter", password=password) as client:
            assert (await client.read()).power_l1 == 812.4  # Gen2: digest, always as admin
        async with auto(gen1_auth, password="wrong") as client:
            with pytest.raises(InvalidAuthError):
                await client.read()
    finally:
        await gen1_auth.close()


async def test_a_failed_probe_is_asked_again(gen1: FakeShelly3EMGen1) -> None:
    async with auto(gen1) as client:
        gen1.faults.status_500 = True
        with pytest.raises(ShellyError):
            await client.read()
        assert client.generation is None
        gen1.faults.status_500 = False
        state = await client.read()

    assert client.generation == 1
    assert state.power_l1 == 812.4


# --- the bridge -------------------------------------------------------------------------------


async def test_the_bridge_starts_while_the_device_is_down_and_finds_it_later(
    state: ShellyPro3EMState,
) -> None:
    gone = await start_fake_shelly_gen1(state)
    port = gone.port
    await gone.close()  # the meter is unreachable when the bridge starts
    client = AutoShelly("127.0.0.1", port=port, clock=lambda: NOW)
    device = ShellyDevice("grid-meter", client, PLACEHOLDER_MODEL["auto"])
    bridge = bridge_for(device)
    try:
        assert await bridge.poll() is False  # no crash: marked unreachable, retried later
        assert bridge.available is False
        assert device.info.model == "3EM"
        back = await start_fake_shelly_gen1(state, port=port)
        try:
            assert await bridge.poll() is True
        finally:
            await back.close()
    finally:
        await client.close()

    assert bridge.available is True
    assert bridge.state is not None and bridge.state.power_l3 == -1404.6
    info = device.info
    assert (info.model, info.serial, info.sw_version) == ("SHEM-3", state.mac, "v1.14.0-gcb84623")


async def test_an_unreachable_device_is_a_connection_error_before_any_probe(
    state: ShellyPro3EMState,
) -> None:
    gone = await start_fake_shelly_gen1(state)
    await gone.close()
    async with auto(gone) as client:
        with pytest.raises(DeviceConnectionError):
            await client.device_info()

    assert client.generation is None


async def test_the_bridge_over_a_gen1_meter_publishes_on_the_bus(
    own_broker: Broker, gen1: FakeShelly3EMGen1
) -> None:
    gen1.invalid = {1}
    settings = ShellySettings(id="grid-meter", host="127.0.0.1", port=gen1.port)
    async with observer(own_broker) as obs:
        mark = obs.mark()
        task = asyncio.create_task(serve(settings, bus_settings(own_broker, "grid-meter")))
        try:
            msg = await obs.wait_for("wattbus/grid-meter/state", after=mark)
            config = await obs.wait_for(
                "homeassistant/device/grid-meter/config",
                lambda m: m.json["dev"]["model"] == "SHEM-3",
                after=mark,
            )
        finally:
            await stop(task)

    published = msg.json
    assert published["power_l3"] == -1404.6 and published["current_l3"] < 0
    assert "power_l2" not in published and "energy_import" not in published  # L2 is invalid
    assert config.json["dev"]["serial_number"] == gen1.state.mac


# --- the setting ------------------------------------------------------------------------------


def test_the_generation_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTBUS_SHELLY_HOST", "127.0.0.1")
    monkeypatch.setenv("WATTBUS_SHELLY_GENERATION", "1")
    monkeypatch.setenv("WATTBUS_SHELLY_USERNAME", "meter")

    settings = ShellySettings()

    assert (settings.generation, settings.username) == ("1", "meter")
    assert ShellySettings(host="x").generation == "1"
    monkeypatch.delenv("WATTBUS_SHELLY_GENERATION")
    monkeypatch.delenv("WATTBUS_SHELLY_USERNAME")
    assert (ShellySettings().generation, ShellySettings().username) == ("auto", "admin")


def test_an_unknown_generation_is_refused() -> None:
    with pytest.raises(ValidationError, match="generation"):
        ShellySettings(host="127.0.0.1", generation="3")


@pytest.mark.parametrize(
    ("generation", "kind"),
    [("auto", AutoShelly), ("1", Shelly3EMGen1), ("2", ShellyPro3EM)],
)
async def test_each_setting_builds_its_client(generation: str, kind: type) -> None:
    settings = ShellySettings(host="127.0.0.1", generation=generation)

    client = open_client(settings)
    await client.close()

    assert isinstance(client, kind)
