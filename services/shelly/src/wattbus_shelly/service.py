"""The Shelly bridge: a Pro 3EM's or a Gen1 3EM's readings on the bus as the house's grid meter
(import > 0).

A meter takes no commands; its one duty is fresh data, so it polls every second, says
`offline` the moment the device stops answering, and publishes nothing it did not just read:
the controller then sees the state age and stops acting on stale numbers. Both generations,
and a Pro 3EM that pushes its readings over MQTT (`push.py`), give the same `MeterState`, so
everything past the client (entities, discovery, the bridge loop) is one code path over
`MeterClient`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.closing import AsyncClosing
from wattbus.commands import CommandError
from wattbus.discovery import DeviceInfo, Entity
from wattbus.models import Command, MeterState, utcnow
from wattbus.service import ServiceSpec
from wattbus.settings import BusSettings

from wattbus_shelly.client import DEFAULT_PORT, DEFAULT_TIMEOUT, ShellyPro3EM
from wattbus_shelly.exceptions import ShellyError
from wattbus_shelly.gen1 import DEFAULT_USERNAME, Shelly3EMGen1
from wattbus_shelly.models import Gen1DeviceInfo
from wattbus_shelly.push import PUSH_MODEL, ShellyPush
from wattbus_shelly.settings import ShellySettings

log = logging.getLogger(__name__)

# Shown until the device's first answer names the real model.
PLACEHOLDER_MODEL = {"auto": "3EM", "1": "3EM", "2": "Pro 3EM"}


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


class MeterInfo(Protocol):
    """What the bridge shows of a device: Gen2 `DeviceInfo` and `Gen1DeviceInfo` both fit."""

    @property
    def name(self) -> str | None: ...

    @property
    def model(self) -> str: ...

    @property
    def mac(self) -> str | None: ...

    @property
    def ver(self) -> str | None: ...


class MeterClient(Protocol):
    """A Shelly meter of either generation: `ShellyPro3EM`, `Shelly3EMGen1`, `AutoShelly`, or
    `ShellyPush`. Its methods raise only `ShellyError`s."""

    async def device_info(self) -> MeterInfo: ...

    async def read(self) -> MeterState: ...

    async def close(self) -> None: ...


class AutoShelly(AsyncClosing):
    """The client for whichever generation answers `GET /shelly`, which it asks once.

    It asks at the first call, not when built, so that a device that is down when the bridge
    starts only fails the first reading, which the bridge retries like any other device error.
    """

    def __init__(
        self,
        host: str,
        *,
        username: str = DEFAULT_USERNAME,
        password: str | None = None,
        port: int = DEFAULT_PORT,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._gen1 = Shelly3EMGen1(
            host, username=username, password=password, port=port, timeout=timeout, clock=clock
        )
        self._host, self._port, self._password = host, port, password
        self._timeout, self._clock = timeout, clock
        self._chosen: tuple[MeterClient, MeterInfo] | None = None
        self.generation: int | None = None  # known once /shelly has answered

    async def close(self) -> None:
        await self._gen1.close()
        if self._chosen is not None:
            await self._chosen[0].close()

    async def device_info(self) -> MeterInfo:
        return (await self._choose())[1]

    async def read(self) -> MeterState:
        return await (await self._choose())[0].read()

    async def _choose(self) -> tuple[MeterClient, MeterInfo]:
        if self._chosen is not None:
            return self._chosen
        info = await self._gen1.identify()
        client: MeterClient
        if isinstance(info, Gen1DeviceInfo):
            client, self.generation = self._gen1, 1
        else:
            await self._gen1.close()
            client = ShellyPro3EM(
                self._host,
                password=self._password,
                port=self._port,
                timeout=self._timeout,
                clock=self._clock,
            )
            self.generation = info.gen
        log.info("%s: %s, generation %d", self._gen1.url, info.model, self.generation)
        self._chosen = (client, info)
        return self._chosen


class ShellyDevice:
    def __init__(self, device_id: str, client: MeterClient, model: str = "Pro 3EM") -> None:
        self.device_id = device_id
        self.client = client
        self.placeholder_model = model
        self.device: MeterInfo | None = None

    @property
    def info(self) -> DeviceInfo:
        d = self.device
        # the name the owner gave it in the Shelly app, else its model: never the wattbus id,
        # which Home Assistant would repeat in every entity's name
        name = f"Shelly {self.placeholder_model}"
        if d is None:
            return DeviceInfo(self.device_id, name, "Shelly", self.placeholder_model)
        return DeviceInfo(self.device_id, d.name or name, "Shelly", d.model, d.mac, d.ver)

    async def read(self, now: datetime) -> MeterState:
        if self.device is None:
            self.device = await self.client.device_info()
        return await self.client.read()

    async def apply(self, command: Command, now: datetime) -> str:
        raise CommandError("a meter takes no commands")


def open_client(settings: ShellySettings) -> MeterClient:
    """The client for the configured generation; nothing is sent before the first reading."""
    password = settings.password.get_secret_value() if settings.password else None
    host, port = settings.host, settings.port
    assert host is not None, "ShellySettings requires a host for polling"
    if settings.generation == "2":
        return ShellyPro3EM(host, port=port, password=password)
    if settings.generation == "1":
        return Shelly3EMGen1(host, port=port, username=settings.username, password=password)
    return AutoShelly(host, port=port, username=settings.username, password=password)


def meter_bridge(bus: Bus, device: ShellyDevice, interval: float) -> Bridge[MeterState, Command]:
    return Bridge(
        bus,
        device,
        entities=ENTITIES,
        command_model=None,
        errors=(ShellyError,),
        interval=interval,
        every_reading=True,  # `ts` is the last read: docs/topics.md, grid meter
    )


async def serve(settings: ShellySettings, bus_settings: BusSettings) -> None:
    bus = Bus(bus_settings, settings.id)
    if settings.source == "mqtt":
        # Still ticks every poll_interval, to notice silence; a push wakes it at once.
        push = ShellyPush(bus, settings.id, settings.push_prefix, max_silence=settings.max_silence)
        bridge = meter_bridge(
            bus, ShellyDevice(settings.id, push, PUSH_MODEL), settings.poll_interval
        )
        push.on_reading = bridge.poll_now
        await bridge.serve()
        return
    client = open_client(settings)
    try:
        device = ShellyDevice(settings.id, client, PLACEHOLDER_MODEL[settings.generation])
        await meter_bridge(bus, device, settings.poll_interval).serve()
    finally:
        await client.close()


SERVICE = ServiceSpec("shelly", ShellySettings, serve)
