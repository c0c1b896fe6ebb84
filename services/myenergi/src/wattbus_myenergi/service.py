"""The myenergi bridge: a Zappi's status on the bus as a `ChargerState`, and its mode and
boost from `set`, each answered only once a status shows what was asked (or that it was not
taken). The Zappi is reached through myenergi's servers, never on the LAN."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.commands import CommandError
from wattbus.discovery import DeviceInfo, Entity
from wattbus.models import ChargerState, utcnow
from wattbus.service import ServiceSpec
from wattbus.settings import BusSettings

from wattbus_myenergi.client import Zappi
from wattbus_myenergi.commands import BOOST_RANGE, ZappiCommand, changes, describe, showing
from wattbus_myenergi.exceptions import MyenergiError, NotAppliedError
from wattbus_myenergi.models import ZappiMode, ZappiStatus, charger_state
from wattbus_myenergi.settings import MyenergiSettings
from wattbus_myenergi.transport import LoopbackTransport

log = logging.getLogger(__name__)

# A change reaches the Zappi through the cloud and its hub, and a status may show it at once or
# some seconds later: read back at once, then this many more times, this far apart (10 s).
READ_BACK_TRIES = 5
READ_BACK_EVERY = 2.0  # s

MANUFACTURER = "myenergi"
MODEL = "Zappi"

ENTITIES = (
    Entity("charging", "binary_sensor", "Charging", device_class="battery_charging"),
    Entity("plugged", "binary_sensor", "Car plugged in", device_class="plug"),
    Entity("status", "sensor", "Plug state"),
    # the Zappi's own words; a plain `off` on set/mode would read as the boolean false
    Entity("mode_name", "select", "Charge mode", writable=True,
           options=tuple(m.value for m in ZappiMode)),
    Entity.power("power", "Charge power"),
    Entity("session_energy", "sensor", "Energy this session", unit="Wh", device_class="energy",
           state_class="total_increasing", precision=0),
    # the state carries no boost: the number only sends one (a boost stops on its own)
    Entity("boost", "number", "Boost", unit="kWh", writable=True, minimum=BOOST_RANGE[0],
           maximum=BOOST_RANGE[1], step=1, category="config"),
    Entity("mode", "sensor", "Mode (wattbus)", category="diagnostic"),
    Entity("status_code", "sensor", "Plug state code", category="diagnostic"),
    Entity("phases", "sensor", "Phases", category="diagnostic"),
    Entity("error", "sensor", "Error", category="diagnostic"),
)  # fmt: skip


class ZappiDevice:
    def __init__(
        self,
        device_id: str,
        zappi: Zappi,
        name: str | None = None,
        *,
        read_back_tries: int = READ_BACK_TRIES,
        read_back_every: float = READ_BACK_EVERY,
    ) -> None:
        self.device_id = device_id
        self.zappi = zappi
        self.name = name
        self.read_back_tries = read_back_tries
        self.read_back_every = read_back_every
        self.last: ZappiStatus | None = None

    @property
    def info(self) -> DeviceInfo:
        last = self.last
        return DeviceInfo(
            self.device_id,
            self.name or f"{MANUFACTURER} {MODEL}",
            MANUFACTURER,
            MODEL,
            str(last.serial) if last else None,
            last.firmware if last else None,
        )

    async def read(self, now: datetime) -> ChargerState:
        self.last = await self.zappi.status()
        return charger_state(self.last, now)

    async def apply(self, command: ZappiCommand, now: datetime) -> str:
        """Send what `command` asks, then read the Zappi back until it shows all of it."""
        status = self.last = await self.zappi.status()  # the mode a boost must meet
        todo = changes(command, status)
        for change in todo:
            if change.field == "mode":
                assert change.mode is not None
                await self.zappi.set_mode(change.mode)
            elif change.field == "boost":
                assert change.kwh is not None
                if not await self.zappi.start_boost(change.kwh):
                    raise CommandError("boost works in Eco or Eco+ only")
            else:
                await self.zappi.stop_boost()
        taken: set[str] = set()
        for attempt in range(1 + self.read_back_tries):
            if attempt:
                await asyncio.sleep(self.read_back_every)
            status = self.last = await self.zappi.status()
            taken |= {c.field for c in todo if c.shown(status)}
            if len(taken) == len(todo):
                return f"the Zappi shows {describe(todo)}"
        tries, every = self.read_back_tries, self.read_back_every
        waited = f"{1 + tries} reads over {tries * every:g} s"
        missing = describe(c for c in todo if c.field not in taken)
        if not taken:
            raise CommandError(
                f"the Zappi did not take {missing}: it shows {showing(status)} after {waited}"
            )
        raise NotAppliedError(
            f"the Zappi took {describe(c for c in todo if c.field in taken)} but not {missing}: "
            f"it shows {showing(status)} after {waited}"
        )


def make_bridge(
    settings: MyenergiSettings,
    bus: Bus,
    zappi: Zappi,
    *,
    clock: Callable[[], datetime] = utcnow,
    read_back_tries: int = READ_BACK_TRIES,
    read_back_every: float = READ_BACK_EVERY,
) -> Bridge[ChargerState, ZappiCommand]:
    device = ZappiDevice(
        settings.id,
        zappi,
        settings.name,
        read_back_tries=read_back_tries,
        read_back_every=read_back_every,
    )
    return Bridge(
        bus,
        device,
        entities=ENTITIES,
        command_model=ZappiCommand,
        errors=(MyenergiError,),
        interval=settings.poll_interval,
        clock=clock,
    )


def open_zappi(settings: MyenergiSettings) -> Zappi:
    """The client; with `loopback_port` (tests, the demo) every request goes to the fake."""
    port = settings.loopback_port
    return Zappi(
        settings.hub_serial,
        settings.api_key.get_secret_value(),
        serial=settings.serial,
        transport=LoopbackTransport(port) if port is not None else None,
    )


async def serve(settings: MyenergiSettings, bus_settings: BusSettings) -> None:
    async with open_zappi(settings) as zappi:
        await make_bridge(settings, Bus(bus_settings, settings.id), zappi).serve()


SERVICE = ServiceSpec("myenergi", MyenergiSettings, serve)
