"""The Powerwall bridge: the gateway's readings on the bus as a `BatteryState`, and `set`
commands (its reserve and operating mode) carried to it, each read back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.commands import CommandError
from wattbus.discovery import DeviceInfo, Entity
from wattbus.models import BatteryState, utcnow
from wattbus.service import ServiceSpec
from wattbus.settings import BusSettings

from wattbus_powerwall.client import Gateway
from wattbus_powerwall.commands import PowerwallCommand
from wattbus_powerwall.exceptions import PowerwallError
from wattbus_powerwall.models import Settings, Status
from wattbus_powerwall.settings import PowerwallSettings

log = logging.getLogger(__name__)

OPERATIONS = ("self_consumption", "backup", "autonomous")
DEFAULT_NAME = "Tesla Powerwall"


def entities(max_reserve: float) -> tuple[Entity, ...]:
    """The route's own reserve range: Home Assistant offers what the bridge takes."""
    return (
        Entity("soc", "sensor", "State of charge", unit="%", device_class="battery",
               state_class="measurement"),
        Entity.power("power", "Battery power"),
        Entity.power("pv_power", "Solar power"),
        Entity.power("site_power", "Grid power"),
        Entity.power("load_power", "Home power"),
        Entity("reserve", "number", "Backup reserve", unit="%", writable=True, minimum=0,
               maximum=max_reserve, step=1, category="config"),
        Entity("operation", "select", "Operation", writable=True, options=OPERATIONS,
               category="config"),
        # read-only: the controller owns holds (steer them with its mode)
        Entity("hold", "binary_sensor", "Held by controller", component_id="held"),
        Entity("hold_route", "sensor", "Hold route", category="diagnostic"),
    )  # fmt: skip


class PowerwallDevice:
    def __init__(self, device_id: str, gateway: Gateway, name: str | None = None) -> None:
        self.device_id = device_id
        self.name = name
        self.gateway = gateway
        self._status: Status | None = None
        self._site_name: str | None = None

    @property
    def info(self) -> DeviceInfo:
        status = self._status
        return DeviceInfo(
            self.device_id,
            self.name or self._site_name or DEFAULT_NAME,
            "Tesla",
            "Powerwall",
            status.din if status else None,
            status.version if status else None,
        )

    async def read(self, now: datetime) -> BatteryState:
        if self._status is None:  # once: who it is does not change while it runs
            self._status = await self.gateway.status()
            self._site_name = await self.gateway.site_name()
        reading = await self.gateway.read()
        return reading.battery_state(now)

    async def apply(self, command: PowerwallCommand, now: datetime) -> str:
        if command.lease is not None and command.hold is not True:
            raise CommandError("lease goes with hold: true")
        if command.hold is not None:
            raise CommandError("this bridge does not hold the battery yet")
        top = self.gateway.max_reserve
        if command.reserve is not None and command.reserve > top:
            raise CommandError(
                f"reserve {command.reserve:g} % is more than route {self.gateway.route} "
                f"takes (0-{top:g} %)"
            )
        current = await self.gateway.settings()
        wanted = Settings(
            command.operation or current.operation,
            current.reserve if command.reserve is None else command.reserve,
        )
        await self.gateway.write(wanted)
        return f"{wanted.describe()}: applied"


def make_bridge(
    settings: PowerwallSettings,
    bus: Bus,
    gateway: Gateway,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Bridge[BatteryState, PowerwallCommand]:
    return Bridge(
        bus,
        PowerwallDevice(settings.id, gateway, settings.name),
        entities=entities(gateway.max_reserve),
        command_model=PowerwallCommand,
        errors=(PowerwallError,),
        interval=settings.interval,
        clock=clock,
    )


def make_gateway(settings: PowerwallSettings) -> Gateway:
    secret = settings.password.get_secret_value() if settings.password else None
    gw_pwd = settings.gw_pwd.get_secret_value() if settings.gw_pwd else None
    return Gateway(
        settings.route,
        host=settings.host,
        password=secret,
        gw_pwd=gw_pwd,
        rsa_key_path=settings.rsa_key_path,
        email=settings.email,
        failover=settings.failover,
        state_dir=settings.state_dir,
        cachefile=settings.state_dir / f"{settings.id}.login.json",
    )


async def serve(settings: PowerwallSettings, bus_settings: BusSettings) -> None:
    async with make_gateway(settings) as gateway:
        await gateway.connect()
        await make_bridge(settings, Bus(bus_settings, settings.id), gateway).serve()


SERVICE = ServiceSpec("powerwall", PowerwallSettings, serve)
