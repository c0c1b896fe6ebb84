"""A Powerwall's side of the hold (`wattbus.hold`): the two settings a hold saves and writes,
how they are compared, and what a held Powerwall looks like.

A hold keeps the battery from discharging, into an EV or through a cheap-rate window: the
operating mode `backup`, in which the Powerwall does not discharge while the grid is up, with
the highest reserve the route takes (100 % on the local gateway, 80 % through FleetAPI and the
cloud, which refuse more). Both parts, because Tesla applies them as two commands and can drop
one: a high reserve alone still keeps the battery from emptying itself, and `backup` alone
still stops it discharging. `Gateway.write` reads back and writes a dropped half again before
it returns; the hold then reads back once more, as for every battery.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from wattbus import hold
from wattbus.hold import SettingSpec, Value, describe
from wattbus.models import HoldRoute, Operation

from wattbus_powerwall.client import RESERVE_TOLERANCE, Gateway
from wattbus_powerwall.exceptions import PowerwallError, WriteRefusedError
from wattbus_powerwall.models import OPERATIONS, Settings

HELD_OPERATION: Operation = "backup"
SPECS = {
    "operation": SettingSpec("real_mode"),
    "reserve": SettingSpec("backup_reserve_percent", "%", RESERVE_TOLERANCE),
}


class Saved(BaseModel):
    """The owner's two settings as they were before the hold, the reserve on the app's scale
    and unrounded: the restore writes back exactly the raw value the gateway had."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    operation: Operation
    reserve: float  # %

    def describe(self) -> str:
        return Settings(self.operation, self.reserve).describe()


class PowerwallPort:
    """The hold's view of one Powerwall (`wattbus.hold.BatteryPort`)."""

    specs = SPECS
    saved_model = Saved
    errors = (PowerwallError,)

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        # the last write the gateway refused, for the answer to a hold it could not place:
        # the hold itself reports only that the route was not taken
        self.refusal: WriteRefusedError | None = None

    @property
    def held(self) -> Settings:
        return Settings(HELD_OPERATION, self.gateway.max_reserve)

    @property
    def routes(self) -> tuple[tuple[HoldRoute, hold.Settings], ...]:
        held = self.held
        return ((HoldRoute.BACKUP, {"operation": held.operation, "reserve": held.reserve}),)

    async def read(self) -> Settings:
        return await self.gateway.settings()

    async def write(self, settings: hold.Settings, restoring: Saved | None) -> None:
        """One setting on its own (a restore the gateway refused is split up) goes with the
        other as the gateway has it now."""
        current = await self.gateway.settings()
        operation = settings.get("operation", current.operation)
        reserve = settings.get("reserve", current.reserve)
        if operation not in OPERATIONS or isinstance(reserve, str):
            raise ValueError(f"not a Powerwall's settings: {describe(settings, SPECS)}")
        try:
            await self.gateway.write(Settings(operation, reserve))
        except WriteRefusedError as err:
            self.refusal = err
            raise

    def value(self, reading: Settings, name: str) -> Value | None:
        if name == "operation":
            return reading.operation
        if name == "reserve":
            return reading.reserve
        raise KeyError(name)

    def save(self, reading: Settings) -> Saved:
        return Saved(operation=reading.operation, reserve=reading.reserve)

    def looks_held(self, reading: Settings, route: HoldRoute) -> bool:
        """`backup` with the route's highest reserve: what a hold leaves, and what an owner
        keeps only rarely (a storm coming). With no record it is taken for a lost hold."""
        return (
            reading.operation == HELD_OPERATION
            and reading.reserve >= self.gateway.max_reserve - RESERVE_TOLERANCE
        )

    def unrestored(self, reading: Settings, saved: Saved) -> str | None:
        return None  # a restore carries nothing besides the two settings

    def refuses(self, reading: Settings, name: str, value: Value) -> str | None:
        """The route's reserve range, which the settings already check the fallback against;
        and the operating modes a gateway knows."""
        if name == "operation":
            return None if value in OPERATIONS else f"not one of {', '.join(OPERATIONS)}"
        top = self.gateway.max_reserve
        if isinstance(value, str) or not 0 <= value <= top:
            return f"outside what route {self.gateway.route} takes (0-{top:g} %)"
        return None

    def stand_in(self, reading: Settings, name: str) -> Value | None:
        return None  # no value the gateway always takes: the configured fallbacks, or none
