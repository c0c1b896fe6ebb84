"""The Kasa/Tapo bridge: a smart plug's relay and meter on the bus as a `PlugState`, and its
relay from `set`, answered once the plug reads back what was asked.

This service is GPL-3.0-or-later, as python-kasa, which it links, is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.commands import CommandError
from wattbus.discovery import DeviceInfo, Entity
from wattbus.models import PlugCommand, PlugState, utcnow
from wattbus.service import ServiceSpec
from wattbus.settings import BusSettings

from wattbus_kasa.exceptions import KasaError, KasaRefused
from wattbus_kasa.plug import Plug, device_config
from wattbus_kasa.readings import plug_state
from wattbus_kasa.settings import KasaSettings

MANUFACTURER = "TP-Link"


def _energy(key: str, name: str) -> Entity:
    return Entity(key, "sensor", name, unit="Wh", device_class="energy",
                  state_class="total_increasing", precision=0)  # fmt: skip


ENTITIES = (
    Entity("on", "switch", "Switch", device_class="outlet", writable=True),
    Entity.power("power", "Power"),
    _energy("energy", "Energy"),
    _energy("energy_today", "Energy today"),
    Entity("voltage", "sensor", "Voltage", unit="V", device_class="voltage",
           state_class="measurement", category="diagnostic", precision=1),
    Entity("current", "sensor", "Current", unit="A", device_class="current",
           state_class="measurement", category="diagnostic", precision=2),
)  # fmt: skip


def _word(on: bool) -> str:
    return "on" if on else "off"


class KasaPlug:
    def __init__(self, device_id: str, plug: Plug, name: str | None = None) -> None:
        self.device_id = device_id
        self.plug = plug
        self.name = name
        self.state: PlugState | None = None

    @property
    def info(self) -> DeviceInfo:
        s = self.state
        name = self.name or (s.alias if s else None) or "Smart plug"
        model = (s.model if s else None) or "Kasa/Tapo plug"
        return DeviceInfo(self.device_id, name, MANUFACTURER, model, self.plug.mac,
                          self.plug.firmware)  # fmt: skip

    async def read(self, now: datetime) -> PlugState:
        self.state = plug_state(await self.plug.read(), now)
        return self.state

    async def apply(self, command: PlugCommand, now: datetime) -> str:
        """Switch, then read back: `applied` only when the relay shows it. A plug that says
        no, or answers and leaves the relay as it was, switched nothing: `rejected`."""
        on = command.on
        assert on is not None  # the command's only field, and a command sets something
        try:
            await self.plug.switch(on)
        except KasaRefused as err:
            raise CommandError(f"on: the plug says: {err}") from err
        state = await self.read(now)
        if state.on is not on:
            raise CommandError(
                f"on: the plug did not switch {_word(on)} (it shows {_word(state.on)})"
            )
        return f"the plug shows {_word(on)}"


def make_bridge(
    settings: KasaSettings, bus: Bus, plug: Plug, *, clock: Callable[[], datetime] = utcnow
) -> Bridge[PlugState, PlugCommand]:
    return Bridge(
        bus,
        KasaPlug(settings.id, plug, settings.name),
        entities=ENTITIES,
        command_model=PlugCommand,
        errors=(KasaError,),
        interval=settings.poll_interval,
        clock=clock,
    )


async def serve(
    settings: KasaSettings, bus_settings: BusSettings, clock: Callable[[], datetime] = utcnow
) -> None:
    plug = Plug(device_config(settings))
    try:
        await make_bridge(settings, Bus(bus_settings, settings.id), plug, clock=clock).serve()
    finally:
        await plug.close()


SERVICE = ServiceSpec("kasa", KasaSettings, serve)
