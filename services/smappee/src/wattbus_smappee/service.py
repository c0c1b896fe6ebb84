"""The Smappee bridge: a Smappee's 5-minute blocks from its cloud on the bus as a
`MeterState` (grid import > 0, the house's use, solar and always-on), stamped with the
block's own time and its span, so the controller judges its age as a block's. A meter takes
no commands.

The cloud is asked only when a newer block can be complete: once the block [T, T+5 min) is
held, nothing is sent before T+10 min, and then every poll until it shows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.discovery import DeviceInfo, Entity
from wattbus.models import Command, MeterState, utcnow
from wattbus.service import ConfigError, ServiceSpec
from wattbus.settings import BusSettings

from wattbus_smappee.client import Login, SmappeeClient
from wattbus_smappee.exceptions import SmappeeError
from wattbus_smappee.readings import BLOCK, blocks, latest_complete, meter_state
from wattbus_smappee.settings import SmappeeSettings

MANUFACTURER = "Smappee"
MODEL = "Smappee (cloud, 5-minute data)"
WINDOW = 4 * BLOCK  # asked for each time: the newest blocks, and a late one before them

ENTITIES = (
    Entity.power("power", "Grid power"),
    Entity.power("load_power", "Consumption"),
    Entity.power("pv_power", "Solar"),
    Entity.power("always_on", "Always on"),
)


def _block_start(t: datetime) -> datetime:
    seconds = BLOCK.total_seconds()
    return datetime.fromtimestamp(t.timestamp() // seconds * seconds, t.tzinfo)


class SmappeeMeter:
    def __init__(
        self, device_id: str, client: SmappeeClient, location: int | None, name: str | None
    ) -> None:
        self.device_id = device_id
        self.client = client
        self.location = location
        self.name = name
        self.location_name: str | None = None
        self.state: MeterState | None = None
        self._chosen = False

    @property
    def info(self) -> DeviceInfo:
        name = self.name or self.location_name or "Smappee"
        serial = str(self.location) if self.location is not None else None
        return DeviceInfo(self.device_id, name, MANUFACTURER, MODEL, serial)

    async def read(self, now: datetime) -> MeterState:
        if not self._chosen:
            await self._choose_location()
        held = self.state
        if held is not None and now < held.ts + 2 * BLOCK:
            return held  # the next block cannot be complete yet: nothing to ask
        assert self.location is not None
        body = await self.client.consumption(self.location, _block_start(now) - WINDOW, now)
        block = latest_complete(blocks(body), now)
        state = meter_state(block) if block is not None else None
        if state is None or (held is not None and state.ts < held.ts):
            if held is not None:
                return held  # not shown yet: the block's age tells whether it is too late
            minutes = WINDOW // timedelta(minutes=1)
            raise SmappeeError(f"no complete 5-minute block in the last {minutes} min")
        self.state = state
        return state

    async def apply(self, command: Command, now: datetime) -> str:
        raise AssertionError("a meter takes no commands")  # the bridge has no command model

    async def _choose_location(self) -> None:
        """The configured service location, checked against the login's; or its only one."""
        found = {
            x["serviceLocationId"]: str(x.get("name") or "")
            for x in await self.client.locations()
            if isinstance(x.get("serviceLocationId"), int)
        }
        listed = ", ".join(f"{i} ({n})" if n else str(i) for i, n in sorted(found.items()))
        if self.location is None:
            if len(found) != 1:
                raise ConfigError(f"WATTBUS_SMAPPEE_SERVICE_LOCATION is required: the login "
                                  f"sees {listed or 'no service location'}")  # fmt: skip
            [self.location] = found
        elif self.location not in found:
            raise ConfigError(f"WATTBUS_SMAPPEE_SERVICE_LOCATION {self.location} is not one "
                              f"of the login's: {listed or 'none'}")  # fmt: skip
        self.location_name = found[self.location] or None
        self._chosen = True


def open_client(settings: SmappeeSettings, clock: Callable[[], datetime] = utcnow) -> SmappeeClient:
    login = Login(settings.client_id, settings.client_secret.get_secret_value(),
                  settings.username, settings.password.get_secret_value())  # fmt: skip
    return SmappeeClient(settings.url, login, clock=clock)


def make_bridge(
    settings: SmappeeSettings,
    bus: Bus,
    client: SmappeeClient,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Bridge[MeterState, Command]:
    meter = SmappeeMeter(settings.id, client, settings.service_location, settings.name)
    return Bridge(
        bus,
        meter,
        entities=ENTITIES,
        command_model=None,
        errors=(SmappeeError,),
        interval=settings.poll_interval,
        clock=clock,
    )


async def serve(
    settings: SmappeeSettings, bus_settings: BusSettings, clock: Callable[[], datetime] = utcnow
) -> None:
    async with open_client(settings, clock) as client:
        await make_bridge(settings, Bus(bus_settings, settings.id), client, clock=clock).serve()


SERVICE = ServiceSpec("smappee", SmappeeSettings, serve)
