"""The Powerwall bridge: the gateway's readings on the bus as a `BatteryState`, and `set`
commands (the owner's reserve and mode, a leased hold) carried to it, each read back. The
hold is the shared one (`wattbus.hold`) with the Powerwall's port; its lease is checked on
every poll, so the battery gets its settings back even when nobody renews or releases it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from wattbus import hold
from wattbus.bridge import Bridge, Outbox
from wattbus.bus import Bus
from wattbus.commands import CommandError
from wattbus.discovery import DeviceInfo, Entity
from wattbus.hold import HoldError, upkeep
from wattbus.models import BatteryState, HoldRoute, utcnow
from wattbus.service import ServiceSpec
from wattbus.settings import BusSettings

from wattbus_powerwall.client import Gateway
from wattbus_powerwall.commands import PowerwallCommand
from wattbus_powerwall.exceptions import PowerwallError
from wattbus_powerwall.models import OPERATIONS, Settings, Status
from wattbus_powerwall.port import PowerwallPort, Saved
from wattbus_powerwall.settings import PowerwallSettings

log = logging.getLogger(__name__)

DEFAULT_NAME = "Tesla Powerwall"

Holder = hold.Holder[Settings, Saved]


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
    def __init__(
        self,
        device_id: str,
        gateway: Gateway,
        holder: Holder,
        lease: float,
        name: str | None = None,
    ) -> None:
        self.device_id = device_id
        self.name = name
        self.gateway = gateway
        self.holder = holder
        self.default_lease = lease
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
        """One reading, after the hold's upkeep (`wattbus.hold.upkeep.poll`)."""
        if self._status is None:  # once: who it is does not change while it runs
            self._status = await self.gateway.status()
            self._site_name = await self.gateway.site_name()
        reading = await upkeep.poll(
            self.holder, self.gateway.read, lambda r: r.settings, now, self.device_id
        )
        return self.holder.annotate(reading.battery_state(now))

    async def apply(self, command: PowerwallCommand, now: datetime) -> str:
        """In this order: release, the owner's settings (deferred to the release while
        held), hold."""
        upkeep.check_lease(command.hold, command.lease)
        top = self.gateway.max_reserve
        if command.reserve is not None and command.reserve > top:
            raise CommandError(
                f"reserve {command.reserve:g} % is more than route {self.gateway.route} "
                f"takes (0-{top:g} %)"
            )
        notes = []
        if command.hold is False:
            notes.append(await upkeep.release(self.holder, now))
        owners: hold.Settings = {}
        if command.operation is not None:
            owners["operation"] = command.operation
        if command.reserve is not None:
            owners["reserve"] = command.reserve
        if owners:
            done = await self.holder.change(owners, now)
            notes.append(f"{hold.describe(owners, self.holder.port.specs)}: {done}")
        if command.hold is True:
            route = await self._hold(command.lease or self.default_lease, now)
            notes.append(upkeep.held(self.holder, route))
        return "; ".join(notes)

    async def _hold(self, lease: float, now: datetime) -> HoldRoute:
        """The hold, with the gateway's own refusal as the reason when it would not take the
        held settings: the owner learns which route can write, not only that it failed."""
        port = self.holder.port
        assert isinstance(port, PowerwallPort)
        port.refusal = None
        try:
            return await self.holder.hold(lease, now)
        except hold.NotAppliedError as err:
            if port.refusal is not None:
                raise port.refusal from err
            raise


def make_bridge(
    settings: PowerwallSettings,
    bus: Bus,
    gateway: Gateway,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Bridge[BatteryState, PowerwallCommand]:
    """The bridge for one Powerwall; the hold's notices go out through the bridge's outbox."""
    outbox = Outbox()
    fallbacks: hold.Settings = {}
    if settings.fallback_operation is not None:
        fallbacks["operation"] = settings.fallback_operation
    if settings.fallback_reserve is not None:
        fallbacks["reserve"] = settings.fallback_reserve
    holder = Holder(
        PowerwallPort(gateway),
        settings.state_dir / f"{settings.id}.hold.json",
        fallbacks=fallbacks,
        outbox=outbox,
    )
    return Bridge(
        bus,
        PowerwallDevice(settings.id, gateway, holder, settings.default_lease, settings.name),
        entities=entities(gateway.max_reserve),
        command_model=PowerwallCommand,
        errors=(PowerwallError, HoldError),
        interval=settings.interval,
        clock=clock,
        outbox=outbox,
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
