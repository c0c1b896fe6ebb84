"""Home Assistant names as each service really publishes them: its own entities and the device
info its device object gives, not a hand-built pair. HA prefixes every entity's name with its
device's, so a device name carrying the wattbus id ("Grid meter grid-meter") or an entity name
repeating the device's would show twice in every entity's name and id. Nothing here connects:
the clients point at loopback ports nobody listens on, and only the Shelly is read, from its
fake, for the name the owner gave it in the Shelly app. Each device gets an id of the owner's
(a default id such as `zendure` may well be a word of its product's name)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.broker import free_port
from wattbus.bus import Bus
from wattbus.discovery import device_config
from wattbus.settings import BusSettings
from wattbus.topics import Topics
from wattbus_controller.state import DEVICE as CONTROLLER_DEVICE
from wattbus_controller.state import ENTITIES as CONTROLLER_ENTITIES
from wattbus_controller.state import strategy_entities
from wattbus_kasa.plug import Plug
from wattbus_kasa.plug import device_config as plug_config
from wattbus_kasa.service import make_bridge as kasa_bridge
from wattbus_kasa.settings import KasaSettings
from wattbus_kraken.entities import discovery as kraken_discovery
from wattbus_kraken.service import KrakenBridge
from wattbus_kraken.settings import KrakenSettings
from wattbus_myenergi.service import make_bridge as zappi_bridge
from wattbus_myenergi.service import open_zappi
from wattbus_myenergi.settings import MyenergiSettings
from wattbus_nrgkick.connect import Connect
from wattbus_nrgkick.gen2 import Gen2
from wattbus_nrgkick.service import make_bridge as nrgkick_bridge
from wattbus_nrgkick.service import open_charger
from wattbus_nrgkick.settings import NrgkickSettings
from wattbus_powerwall.service import make_bridge as powerwall_bridge
from wattbus_powerwall.service import make_gateway
from wattbus_powerwall.settings import PowerwallSettings
from wattbus_shelly.service import PLACEHOLDER_MODEL, ShellyDevice, meter_bridge, open_client
from wattbus_shelly.settings import ShellySettings
from wattbus_simulator.fake_shelly import ShellyPro3EMState, start_fake_shelly
from wattbus_smappee.service import make_bridge as smappee_bridge
from wattbus_smappee.service import open_client as open_smappee
from wattbus_smappee.settings import SmappeeSettings
from wattbus_smartevse.entities import discovery as smartevse_discovery
from wattbus_solaredge.client import SolarEdge
from wattbus_solaredge.service import bridges as solaredge_bridges
from wattbus_solaredge.settings import SolarEdgeSettings
from wattbus_zendure.client import SolarFlow
from wattbus_zendure.service import make_bridge as zendure_bridge
from wattbus_zendure.settings import ZendureSettings

T0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
ID = "unit-7"  # an id no product name holds
TOPICS = Topics()
Config = dict[str, Any]
# per device: the id its name must not hold (None: the controller's own, fixed), its config
Made = list[tuple[str | None, Config]]
Make = Callable[[contextlib.AsyncExitStack, Path], Awaitable[Made]]


def bus(device_id: str) -> Bus:
    return Bus(BusSettings.only(), device_id)  # never run: nothing connects


async def shelly(stack: contextlib.AsyncExitStack, _: Path) -> Made:
    settings = ShellySettings.only(id=ID, host="127.0.0.1", port=free_port())
    client = open_client(settings)
    stack.push_async_callback(client.close)
    device = ShellyDevice(settings.id, client, PLACEHOLDER_MODEL[settings.generation])
    bridge = meter_bridge(bus(settings.id), device, 1.0)
    return [(settings.id, device_config(TOPICS, bridge.device.info, bridge.entities))]


async def zendure(stack: contextlib.AsyncExitStack, tmp: Path) -> Made:
    settings = ZendureSettings.only(id=ID, host="127.0.0.1", state_dir=tmp)
    flow = await stack.enter_async_context(SolarFlow("127.0.0.1", port=free_port()))
    bridge = zendure_bridge(settings, bus(settings.id), flow)
    return [(settings.id, device_config(TOPICS, bridge.device.info, bridge.entities))]


async def controller(_: contextlib.AsyncExitStack, __: Path) -> Made:
    entities = CONTROLLER_ENTITIES + strategy_entities(["smartevse"])  # one tracked charger
    return [(None, device_config(TOPICS, CONTROLLER_DEVICE, entities))]


async def kasa(stack: contextlib.AsyncExitStack, _: Path) -> Made:
    settings = KasaSettings.only(id=ID, host="127.0.0.1", port=free_port())
    plug = Plug(plug_config(settings))
    stack.push_async_callback(plug.close)
    bridge = kasa_bridge(settings, bus(settings.id), plug)
    return [(settings.id, device_config(TOPICS, bridge.device.info, bridge.entities))]


async def kraken(stack: contextlib.AsyncExitStack, tmp: Path) -> Made:
    url = f"http://127.0.0.1:{free_port()}/"
    settings = KrakenSettings.only(id=ID, supplier="octopus", account="A-1234ABCD", api_key="k",
                                   url=url, state_dir=tmp)  # fmt: skip
    bridge = KrakenBridge(bus(settings.id), settings)
    stack.push_async_callback(bridge.close)
    return [(settings.id, kraken_discovery(TOPICS, bridge.info))]


async def myenergi(stack: contextlib.AsyncExitStack, _: Path) -> Made:
    settings = MyenergiSettings.only(
        id=ID, hub_serial="1234", api_key="k", loopback_port=free_port()
    )
    zappi = await stack.enter_async_context(open_zappi(settings))
    bridge = zappi_bridge(settings, bus(settings.id), zappi)
    return [(settings.id, device_config(TOPICS, bridge.device.info, bridge.entities))]


async def nrgkick(stack: contextlib.AsyncExitStack, _: Path) -> Made:
    settings = NrgkickSettings.only(id=ID, host=f"127.0.0.1:{free_port()}")
    client: Gen2 | Connect = open_charger(settings)
    await stack.enter_async_context(client)
    bridge = nrgkick_bridge(settings, bus(settings.id), client)
    return [(settings.id, device_config(TOPICS, bridge.device.info, bridge.entities))]


async def powerwall(_: contextlib.AsyncExitStack, tmp: Path) -> Made:
    host = f"127.0.0.1:{free_port()}"
    settings = PowerwallSettings.only(id=ID, host=host, password="p", state_dir=tmp)
    bridge = powerwall_bridge(settings, bus(settings.id), make_gateway(settings))
    return [(settings.id, device_config(TOPICS, bridge.device.info, bridge.entities))]


async def smartevse(_: contextlib.AsyncExitStack, __: Path) -> Made:
    return [(ID, smartevse_discovery(TOPICS, ID, "SmartEVSE/12345", "feed"))]


async def solaredge(stack: contextlib.AsyncExitStack, _: Path) -> Made:
    settings = SolarEdgeSettings.only(host="127.0.0.1", port=free_port(), meter_id=ID,
                                      battery_id="unit-8", inverter_id="unit-9")  # fmt: skip
    client = await stack.enter_async_context(SolarEdge("127.0.0.1", port=settings.port))
    meter, battery, inverter = solaredge_bridges(settings, BusSettings.only(), client)
    assert battery is not None and inverter is not None
    return [
        (b.device_id, device_config(TOPICS, b.device.info, b.entities))
        for b in (meter, battery, inverter)
    ]


async def smappee(stack: contextlib.AsyncExitStack, _: Path) -> Made:
    login = {"client_id": "c", "client_secret": "s", "username": "u", "password": "p"}
    settings = SmappeeSettings.only(id=ID, url=f"http://127.0.0.1:{free_port()}", **login)
    client = open_smappee(settings)
    stack.push_async_callback(client.close)
    bridge = smappee_bridge(settings, bus(settings.id), client)
    return [(settings.id, device_config(TOPICS, bridge.device.info, bridge.entities))]


SERVICES: list[Make] = [shelly, zendure, controller, kasa, kraken, myenergi, nrgkick, powerwall,
                        smappee, smartevse, solaredge]  # fmt: skip


@contextlib.asynccontextmanager
async def published(make: Make, tmp: Path) -> AsyncIterator[Made]:
    async with contextlib.AsyncExitStack() as stack:
        yield await make(stack, tmp)


@pytest.mark.parametrize("make", SERVICES, ids=[m.__name__ for m in SERVICES])
async def test_entity_names_do_not_repeat_the_device_name(make: Make, tmp_path: Path) -> None:
    async with published(make, tmp_path) as configs:
        assert configs
        for device_id, config in configs:
            device_name = config["dev"]["name"]
            assert device_id is None or device_id not in device_name.lower(), device_name
            for key, component in config["cmps"].items():
                name = component.get("name")
                assert name, (device_id, key)
                assert not name.lower().startswith(device_name.split()[0].lower()), (
                    device_name,
                    name,
                )
                assert device_name.lower() not in name.lower(), (device_name, name)


@pytest.mark.parametrize(("app_name", "shown"), [(None, "Shelly 3EM"), ("Mains", "Mains")])
async def test_the_shelly_meter_is_named_by_its_app_name_or_its_model_never_its_id(
    app_name: str | None, shown: str
) -> None:
    fake = await start_fake_shelly(ShellyPro3EMState(name=app_name))
    settings = ShellySettings.only(host="127.0.0.1", port=fake.port)
    client = open_client(settings)
    try:
        device = ShellyDevice(settings.id, client, PLACEHOLDER_MODEL[settings.generation])
        assert settings.id not in device.info.name.lower()  # before the first answer
        await device.read(T0)
        info = device.info
    finally:
        await client.close()
        await fake.close()
    assert info.name == shown
    assert settings.id not in info.name.lower()
