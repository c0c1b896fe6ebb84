"""The SolarEdge bridge: one inverter's Modbus TCP connection serving three wattbus devices, its
export/import meter as a `MeterState` (import > 0, like every grid meter on the bus, so it can
feed a SmartEVSE), its StorEdge battery as a `BatteryState` (with the inverter's AC output and
the PV power) and the inverter itself as an `InverterState` (AC and DC power, lifetime energy,
status). Each device has its own bridge and MQTT connection, so each has its own availability:
a battery that stops answering does not make the grid meter look dead.

None takes commands: the StorEdge's remote control (block 0xE000) is not driven from here.
The battery's state has no field for the inverter's status, so its changes are
`inverter_status` notices on the battery's event topic (an error when it reports a fault),
whether or not the inverter is published itself."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from pydantic import SecretStr
from wattbus.bridge import Bridge, DeviceEvent, Outbox
from wattbus.bus import Bus
from wattbus.commands import CommandError
from wattbus.discovery import DeviceInfo, Entity
from wattbus.models import BatteryState, Command, EventKind, InverterState, MeterState, utcnow
from wattbus.service import ConfigError, ServiceSpec
from wattbus.settings import BusSettings
from wattbus.stopping import run_together

from wattbus_solaredge.client import SolarEdge, SolarEdgeError
from wattbus_solaredge.registers import (
    INVERTER_MODELS,
    RegisterError,
    battery_state,
    decode_meter,
    inverter_state,
)
from wattbus_solaredge.settings import SolarEdgeSettings

log = logging.getLogger(__name__)

FAULT = 7  # the inverter's SunSpec status "fault"
ERRORS = (SolarEdgeError, RegisterError)


def _energy(key: str, name: str) -> Entity:
    return Entity(key, "sensor", name, unit="Wh", device_class="energy",
                  state_class="total_increasing", precision=0)  # fmt: skip


METER_ENTITIES = (
    Entity.power("power", "Grid power"),
    *(Entity.power(f"power_l{n}", f"Power L{n}") for n in (1, 2, 3)),
    _energy("energy_import", "Energy imported"),
    _energy("energy_export", "Energy exported"),
)

BATTERY_ENTITIES = (
    Entity("soc", "sensor", "State of charge", unit="%", device_class="battery",
           state_class="measurement"),
    Entity.power("power", "Battery power"),
    Entity.power("pv_power", "Solar power"),
    Entity.power("output_home_power", "Inverter AC power"),
)  # fmt: skip

INVERTER_ENTITIES = (
    Entity.power("power", "AC power"),
    Entity.power("dc_power", "DC power"),
    _energy("energy", "Energy produced"),
    Entity("status", "sensor", "Status"),
)


class MeterDevice:
    def __init__(self, device_id: str, client: SolarEdge, meter: int) -> None:
        self.client, self.meter = client, meter
        self.info = DeviceInfo(device_id, "SolarEdge meter", "SolarEdge", f"Meter {meter}")

    async def read(self, now: datetime) -> MeterState:
        return decode_meter(await self.client.meter_registers(self.meter), now)

    async def apply(self, command: Command, now: datetime) -> str:
        raise CommandError("a meter takes no commands")


class BatteryDevice:
    def __init__(self, device_id: str, client: SolarEdge, battery: int, outbox: Outbox) -> None:
        self.device_id, self.client, self.battery, self.outbox = device_id, client, battery, outbox
        self.model = "StorEdge"
        self.status: int | None = None

    @property
    def info(self) -> DeviceInfo:
        return DeviceInfo(self.device_id, "SolarEdge StorEdge", "SolarEdge", self.model)

    async def read(self, now: datetime) -> BatteryState:
        inverter = await self.client.inverter()
        battery = await self.client.battery(self.battery)
        self.model = f"StorEdge, {INVERTER_MODELS[inverter.model]} inverter"
        if inverter.status != self.status and self.status is not None:
            kind = EventKind.ERROR if inverter.status == FAULT else EventKind.NOTICE
            reason = f"inverter {inverter.status_name or 'status not reported'}"
            data: dict[str, object] = {"status": inverter.status, "name": inverter.status_name}
            self.outbox.put(DeviceEvent(kind, "inverter_status", reason, data))
        self.status = inverter.status
        return battery_state(battery, inverter, now)

    async def apply(self, command: Command, now: datetime) -> str:
        raise CommandError("the StorEdge battery takes no commands from wattbus")


class InverterDevice:
    def __init__(self, device_id: str, client: SolarEdge) -> None:
        self.device_id, self.client = device_id, client
        self.model = "inverter"

    @property
    def info(self) -> DeviceInfo:
        return DeviceInfo(self.device_id, "SolarEdge inverter", "SolarEdge", self.model)

    async def read(self, now: datetime) -> InverterState:
        inverter = await self.client.inverter()
        self.model = f"{INVERTER_MODELS[inverter.model]} inverter"
        return inverter_state(inverter, now)

    async def apply(self, command: Command, now: datetime) -> str:
        raise CommandError("the inverter takes no commands from wattbus")


def own_login(
    bus_settings: BusSettings, device: str, device_id: str, password: SecretStr | None
) -> BusSettings:
    """A device's own MQTT login: the broker takes a user's name as its client id, so the
    meter's login, used twice, would push one connection off with the other."""
    if bus_settings.mqtt_username is None:  # a broker without logins
        return bus_settings
    if password is None:
        variable = f"WATTBUS_SOLAREDGE_{device.upper()}"
        raise ConfigError(
            f"{variable}_MQTT_PASSWORD is required: the {device} logs in as {device_id} "
            f"(or set {variable}=0)"
        )
    login = {"mqtt_username": device_id, "mqtt_password": password}
    return bus_settings.model_copy(update=login)


class Bridges(NamedTuple):
    meter: Bridge[MeterState, Command]
    battery: Bridge[BatteryState, Command] | None
    inverter: Bridge[InverterState, Command] | None


def bridges(
    settings: SolarEdgeSettings,
    bus_settings: BusSettings,
    client: SolarEdge,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Bridges:
    """The meter's bridge, the battery's and the inverter's (None where turned off), each with
    its own bus. `clock`: what their states are stamped with (a demo's sped-up day)."""
    meter = Bridge(
        Bus(bus_settings, settings.meter_id),
        MeterDevice(settings.meter_id, client, settings.meter),
        entities=METER_ENTITIES,
        command_model=None,
        errors=ERRORS,
        interval=settings.poll_interval,
        clock=clock,
        every_reading=True,  # `ts` is the last read: docs/topics.md, grid meter
    )
    battery = None
    if settings.battery:
        outbox = Outbox()
        login = own_login(
            bus_settings, "battery", settings.battery_id, settings.battery_mqtt_password
        )
        battery = Bridge(
            Bus(login, settings.battery_id),
            BatteryDevice(settings.battery_id, client, settings.battery, outbox),
            entities=BATTERY_ENTITIES,
            command_model=None,
            errors=ERRORS,
            interval=settings.poll_interval,
            clock=clock,
            outbox=outbox,
        )
    inverter = None
    if settings.inverter:
        login = own_login(
            bus_settings, "inverter", settings.inverter_id, settings.inverter_mqtt_password
        )
        inverter = Bridge(
            Bus(login, settings.inverter_id),
            InverterDevice(settings.inverter_id, client),
            entities=INVERTER_ENTITIES,
            command_model=None,
            errors=ERRORS,
            interval=settings.poll_interval,
            clock=clock,
            # `ts` is the last read, as the meter's: a surplus worked out from the two must
            # not take a silent inverter's old power for a steady one
            every_reading=True,
        )
    return Bridges(meter, battery, inverter)


async def serve(settings: SolarEdgeSettings, bus_settings: BusSettings) -> None:
    if not log.isEnabledFor(logging.DEBUG):
        # pymodbus logs each failed request as an ERROR with a hex dump of the last frames, at
        # every retry; the bridge says once, in words, that the inverter stopped answering
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    client = SolarEdge(settings.host, port=settings.port, unit=settings.unit)
    try:
        await run_together(*(b.serve() for b in bridges(settings, bus_settings, client) if b))
    finally:
        await client.close()


SERVICE = ServiceSpec("solaredge", SolarEdgeSettings, serve)
