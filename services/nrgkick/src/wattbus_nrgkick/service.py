"""The NRGKICK bridge: the charger's readings on the bus as a `ChargerState`, and its
current, pause and phases from `set`, each answered once the charger reads back what was
asked. A Gen2 is read over its own JSON API; an older NRGKICK through its Connect box."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from wattbus.bridge import Bridge, Device
from wattbus.bus import Bus
from wattbus.commands import CommandError
from wattbus.discovery import DeviceInfo, Entity
from wattbus.models import ChargerMode, ChargerState, utcnow
from wattbus.service import ServiceSpec
from wattbus.settings import BusSettings

from wattbus_nrgkick.commands import CURRENT_MAX, NrgkickCommand, check, shown
from wattbus_nrgkick.connect import Connect
from wattbus_nrgkick.exceptions import NrgkickError, NrgkickRefused
from wattbus_nrgkick.gen2 import Gen2
from wattbus_nrgkick.readings import (
    MIN_CURRENT,
    Gen2Info,
    connect_state,
    gen2_info,
    gen2_state,
    number,
)
from wattbus_nrgkick.settings import NrgkickSettings

MANUFACTURER = "DiniTech"


def entities(can_switch: bool) -> tuple[Entity, ...]:
    switch = (
        Entity("phases", "number", "Phases", writable=True, minimum=1, maximum=3, step=1,
               category="config"),
    ) if can_switch else (Entity("phases", "sensor", "Phases", category="diagnostic"),)  # fmt: skip
    return (
        Entity("charging", "binary_sensor", "Charging", device_class="battery_charging"),
        Entity("plugged", "binary_sensor", "Car plugged in", device_class="plug"),
        Entity.power("power", "Charge power"),
        Entity("current", "number", "Charge current", unit="A", device_class="current",
               writable=True, minimum=MIN_CURRENT, maximum=CURRENT_MAX, step=0.1),
        Entity("mode", "select", "Mode", writable=True,
               options=(ChargerMode.NORMAL.value, ChargerMode.PAUSE.value)),
        Entity("session_energy", "sensor", "Energy this session", unit="Wh",
               device_class="energy", state_class="total_increasing", precision=0),
        Entity("total_energy", "sensor", "Energy in all", unit="Wh", device_class="energy",
               state_class="total_increasing", precision=0),
        *switch,
        Entity("status", "sensor", "Status", category="diagnostic"),
        Entity("error", "sensor", "Error", category="diagnostic"),
    )  # fmt: skip


def _not_shown(missing: list[str]) -> str:
    return f"the charger did not take {', '.join(missing)}"


class Gen2Charger:
    def __init__(self, device_id: str, client: Gen2, name: str | None = None) -> None:
        self.device_id = device_id
        self.client = client
        self.name = name
        self.about: Gen2Info | None = None
        self.state: ChargerState | None = None
        self.phase_count: int | None = None

    @property
    def info(self) -> DeviceInfo:
        about = self.about
        serial, firmware = (about.serial, about.firmware) if about else (None, None)
        return DeviceInfo(
            self.device_id, self.name or "NRGKICK", MANUFACTURER, "NRGKICK Gen2", serial, firmware
        )

    async def read(self, now: datetime) -> ChargerState:
        if self.about is None:
            self.about = gen2_info(await self.client.info())
        values = await self.client.values()
        control = await self.client.control()
        count = number(control.get("phase_count"))
        self.phase_count = int(count) if count in (1, 2, 3) else None  # what `phases` sets
        self.state = gen2_state(self.about, values, control, now)
        return self.state

    async def apply(self, command: NrgkickCommand, now: datetime) -> str:
        """Phases first (the write the charger most often refuses), then current, then pause;
        a refusal before anything was taken changes nothing and is `rejected` in the
        charger's words."""
        check(command, self.state, can_switch=True)
        writes: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        if command.phases is not None:
            phases = int(command.phases)
            writes.append(("phases", lambda: self.client.set_phase_count(phases)))
        if command.current is not None:
            amps = command.current
            writes.append(("current", lambda: self.client.set_current(amps)))
        if command.mode is not None:
            paused = command.mode is ChargerMode.PAUSE
            writes.append(("mode", lambda: self.client.set_charge_pause(paused)))
        taken: list[str] = []
        for field, write in writes:
            try:
                await write()
            except NrgkickRefused as err:
                if not taken:
                    raise CommandError(f"{field}: the charger says: {err}") from err
                raise NrgkickError(
                    f"the charger took {', '.join(taken)} but refused {field}: {err}"
                ) from err
            taken.append(field)
        state = await self.read(now)
        missing = shown(command, state, self.phase_count)
        if missing:
            raise NrgkickError(_not_shown(missing))
        return f"the charger shows {', '.join(taken)}"


class ConnectCharger:
    def __init__(
        self, device_id: str, client: Connect, max_current: float, name: str | None = None
    ) -> None:
        self.device_id = device_id
        self.client = client
        self.max_current = max_current
        self.name = name
        self.state: ChargerState | None = None

    @property
    def info(self) -> DeviceInfo:
        return DeviceInfo(self.device_id, self.name or "NRGKICK", MANUFACTURER,
                          "NRGKICK + Connect", self.client.mac, None)  # fmt: skip

    async def read(self, now: datetime) -> ChargerState:
        settings = await self.client.settings()
        measurements = await self.client.measurements()
        self.state = connect_state(measurements, settings, self.max_current, now)
        return self.state

    async def apply(self, command: NrgkickCommand, now: datetime) -> str:
        """The Connect takes current and charging in one PUT and says nothing of a wrong
        password: only the read-back shows whether it took them."""
        state = await self.read(now)
        check(command, state, can_switch=False)
        mode = command.mode or state.mode
        amps = command.current if command.current is not None else state.current
        if amps is None:
            raise CommandError("the charger's current is not known yet")
        await self.client.put_settings(mode is not ChargerMode.PAUSE, amps)
        missing = shown(command, await self.read(now), None)
        if missing:
            raise CommandError(f"{_not_shown(missing)}: check WATTBUS_NRGKICK_PASSWORD")
        return "the charger shows " + ", ".join(
            f for f in ("current", "mode") if getattr(command, f) is not None
        )


def open_charger(settings: NrgkickSettings) -> Gen2 | Connect:
    """The client for `settings.api`; both APIs are plain HTTP on the LAN."""
    url = f"http://{settings.host}"
    if settings.api == "connect":
        assert settings.mac is not None  # the settings require it
        return Connect(url, settings.mac, settings.connect_password)
    auth = None
    if settings.username is not None and settings.password is not None:
        auth = (settings.username, settings.password.get_secret_value())
    return Gen2(url, auth=auth)


def make_bridge(
    settings: NrgkickSettings,
    bus: Bus,
    client: Gen2 | Connect,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Bridge[ChargerState, NrgkickCommand]:
    device: Device[ChargerState, NrgkickCommand]
    if isinstance(client, Connect):
        device = ConnectCharger(settings.id, client, settings.max_current, settings.name)
    else:
        device = Gen2Charger(settings.id, client, settings.name)
    return Bridge(
        bus,
        device,
        entities=entities(can_switch=isinstance(client, Gen2)),
        command_model=NrgkickCommand,
        errors=(NrgkickError,),
        interval=settings.poll_interval,
        clock=clock,
    )


async def serve(settings: NrgkickSettings, bus_settings: BusSettings) -> None:
    async with open_charger(settings) as client:
        await make_bridge(settings, Bus(bus_settings, settings.id), client).serve()


SERVICE = ServiceSpec("nrgkick", NrgkickSettings, serve)
