"""The Zendure bridge: a SolarFlow's report on the bus, and `set` commands (min SoC, output
limit, a leased hold) carried to it. The hold's lease is checked on every poll, so a battery
is given back its settings even when nobody renews or releases the hold."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from wattbus.bridge import Bridge, Outbox
from wattbus.bus import Bus
from wattbus.discovery import DeviceInfo, Entity
from wattbus.hold import HoldError, upkeep
from wattbus.models import BatteryCommand, BatteryState, utcnow
from wattbus.service import ServiceSpec
from wattbus.settings import BusSettings

from wattbus_zendure.client import SolarFlow
from wattbus_zendure.exceptions import ZendureError
from wattbus_zendure.hold import Holder
from wattbus_zendure.models import MAX_OUTPUT_LIMIT, Properties, product_name
from wattbus_zendure.port import USER_MIN_SOC_MAX
from wattbus_zendure.settings import ZendureSettings

log = logging.getLogger(__name__)

ENTITIES = (
    Entity("soc", "sensor", "State of charge", unit="%", device_class="battery",
           state_class="measurement"),
    Entity.power("power", "Battery power"),
    Entity.power("pv_power", "PV power"),
    Entity.power("output_home_power", "Output to home"),
    Entity.power("grid_input_power", "Input from grid"),
    Entity("min_soc", "number", "Minimum SoC", unit="%", writable=True, minimum=0,
           maximum=USER_MIN_SOC_MAX, step=1, category="config"),
    # the largest SolarFlow's; a smaller unit refuses more than its own inverseMaxPower, saying so
    Entity("output_limit", "number", "Output limit", unit="W", device_class="power",
           writable=True, minimum=0, maximum=MAX_OUTPUT_LIMIT, step=10, category="config"),
    Entity("soc_set", "sensor", "Charge limit", unit="%", category="diagnostic"),
    Entity("input_limit", "sensor", "Input limit", unit="W", category="diagnostic"),
    # Read-only: the controller owns holds (steer them with its mode). A switch here fought the
    # controller, which undid it within a second.
    Entity("hold", "binary_sensor", "Held by controller", component_id="held"),
    Entity("hold_route", "sensor", "Hold route", category="diagnostic"),
)  # fmt: skip


PRIOR_MAX_AGE = 5.0  # s: a poll younger than this may stand for the settings a hold saves


class ZendureDevice:
    def __init__(
        self,
        device_id: str,
        flow: SolarFlow,
        holder: Holder,
        lease: float,
        name: str | None = None,
    ) -> None:
        self.device_id = device_id
        self.name = name
        self.flow = flow
        self.holder = holder
        self.default_lease = lease
        self.product = "SolarFlow"
        # the last poll's settings, dropped whenever wattbus writes to the device
        self.polled: tuple[datetime, Properties] | None = None

    @property
    def info(self) -> DeviceInfo:
        return DeviceInfo(
            self.device_id,
            self.name or product_name(self.product),
            "Zendure",
            self.product,
            self.flow.sn,
        )

    async def read(self, now: datetime) -> BatteryState:
        """One report, after the hold's upkeep (`wattbus.hold.upkeep.poll`)."""
        report = await upkeep.poll(
            self.holder, self.flow.report, lambda r: r.properties, now, self.device_id
        )
        self.product = report.product or self.product
        self.polled = (now, report.properties)
        return self.holder.annotate(report.battery_state(now))

    def _fresh_poll(self, now: datetime) -> Properties | None:
        """The settings a hold may save without reading the device again: the hold lands
        one round trip sooner. Only a change made in the vendor's app within the last
        seconds could slip past; a change through wattbus drops the poll."""
        if self.polled is None or (now - self.polled[0]).total_seconds() > PRIOR_MAX_AGE:
            return None
        return self.polled[1]

    async def apply(self, command: BatteryCommand, now: datetime) -> str:
        upkeep.check_lease(command.hold, command.lease)
        writes_first = command.hold is False or command.min_soc is not None
        known = None if writes_first or command.output_limit is not None else self._fresh_poll(now)
        self.polled = None
        notes = []
        if command.hold is False:
            notes.append(await upkeep.release(self.holder, now))
        if command.min_soc is not None:
            done = await self.holder.set_min_soc(command.min_soc, now)
            notes.append(f"min_soc {command.min_soc:g} %: {done}")
        if command.output_limit is not None:
            done = await self.holder.set_output_limit(command.output_limit, now)
            notes.append(f"output_limit {command.output_limit:g} W: {done}")
        if command.hold is True:
            route = await self.holder.hold(command.lease or self.default_lease, now, known=known)
            notes.append(upkeep.held(self.holder, route))
        return "; ".join(notes)


def make_bridge(
    settings: ZendureSettings,
    bus: Bus,
    flow: SolarFlow,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Bridge[BatteryState, BatteryCommand]:
    """The bridge for one SolarFlow; the hold's notices go out through the bridge's outbox."""
    outbox = Outbox()
    holder = Holder(
        flow,
        settings.state_dir / f"{settings.id}.hold.json",
        fallback_min_soc=settings.fallback_min_soc,
        fallback_output_limit=settings.fallback_output_limit,
        outbox=outbox,
    )
    return Bridge(
        bus,
        ZendureDevice(settings.id, flow, holder, settings.default_lease, settings.name),
        entities=ENTITIES,
        command_model=BatteryCommand,
        errors=(ZendureError, HoldError),
        interval=settings.poll_interval,
        clock=clock,
        outbox=outbox,
    )


async def serve(settings: ZendureSettings, bus_settings: BusSettings) -> None:
    async with SolarFlow(settings.host, port=settings.port) as flow:
        await make_bridge(settings, Bus(bus_settings, settings.id), flow).serve()


SERVICE = ServiceSpec("zendure", ZendureSettings, serve)
