"""The Shelly bridge: a Pro 3EM's readings on the bus as the house's grid meter (import > 0).

A meter takes no commands; its one duty is fresh data, so it polls every second, says
`offline` the moment the device stops answering, and publishes nothing it did not just read:
the controller then sees the state age and stops acting on stale numbers."""

from __future__ import annotations

import asyncio
from datetime import datetime

from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.commands import CommandError
from wattbus.discovery import DeviceInfo, Entity
from wattbus.models import Command, MeterState
from wattbus.service import ServiceSpec
from wattbus.settings import BusSettings

from wattbus_shelly import models
from wattbus_shelly.client import ShellyPro3EM
from wattbus_shelly.exceptions import ShellyError
from wattbus_shelly.settings import ShellySettings


def _phase_entities(n: int) -> tuple[Entity, ...]:
    return (
        Entity.power(f"power_l{n}", f"Power L{n}"),
        Entity(f"current_l{n}", "sensor", f"Current L{n}", unit="A", device_class="current",
               state_class="measurement", precision=2),
        Entity(f"voltage_l{n}", "sensor", f"Voltage L{n}", unit="V", device_class="voltage",
               state_class="measurement", precision=1, category="diagnostic"),
    )  # fmt: skip


def _energy(key: str, name: str) -> Entity:
    return Entity(key, "sensor", name, unit="Wh", device_class="energy",
                  state_class="total_increasing", precision=0)  # fmt: skip


ENTITIES = (
    Entity.power("power", "Grid power"),
    *_phase_entities(1),
    *_phase_entities(2),
    *_phase_entities(3),
    _energy("energy_import", "Energy imported"),
    _energy("energy_export", "Energy exported"),
)


class ShellyDevice:
    def __init__(self, device_id: str, client: ShellyPro3EM) -> None:
        self.device_id = device_id
        self.client = client
        self.device: models.DeviceInfo | None = None

    @property
    def info(self) -> DeviceInfo:
        d = self.device
        if d is None:
            return DeviceInfo(self.device_id, f"Grid meter {self.device_id}", "Shelly", "Pro 3EM")
        return DeviceInfo(
            self.device_id, d.name or f"Grid meter {self.device_id}", "Shelly", d.model, d.mac,
            d.ver,
        )  # fmt: skip

    async def read(self, now: datetime) -> MeterState:
        if self.device is None:
            self.device = await self.client.device_info()
        return await self.client.read()

    async def apply(self, command: Command, now: datetime) -> str:
        raise CommandError("a meter takes no commands")


async def serve(settings: ShellySettings, bus_settings: BusSettings) -> None:
    password = settings.password.get_secret_value() if settings.password else None
    async with ShellyPro3EM(settings.host, port=settings.port, password=password) as client:
        bus = Bus(bus_settings, settings.id)
        bridge: Bridge[MeterState, Command] = Bridge(
            bus,
            ShellyDevice(settings.id, client),
            entities=ENTITIES,
            command_model=None,
            errors=(ShellyError,),
            interval=settings.poll_interval,
        )
        async with asyncio.TaskGroup() as tg:
            tg.create_task(bus.run())
            tg.create_task(bridge.run())


SERVICE = ServiceSpec("shelly", ShellySettings, serve)
