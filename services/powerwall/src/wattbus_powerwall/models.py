"""The gateway's answers as pypowerwall returns them, and their wattbus meaning.

Every route (local gateway, FleetAPI, cloud) is read through the same local API paths:
pypowerwall maps them onto the cloud's data for the remote routes, with percentages on the
gateway's raw scale in each. The conversion to wattbus's units and signs happens once, in
`Reading.battery_state`. Unknown fields are ignored; the ones used are required, so an answer
without them is an error rather than a zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import get_args

from pydantic import BaseModel, ConfigDict, Field
from wattbus.models import BatteryState, Operation

from wattbus_powerwall.units import app_percent, battery_power

OPERATIONS: tuple[Operation, ...] = get_args(Operation)  # as pypowerwall's API.md lists them


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Meter(_Answer):
    """One of `/api/meters/aggregates`' meters."""

    instant_power: float = Field(description="W; the battery's > 0 discharging")


class Aggregates(_Answer):
    """`/api/meters/aggregates`."""

    site: Meter = Field(description="the grid connection, > 0 import")
    battery: Meter
    load: Meter = Field(description="the home")
    solar: Meter


class OperationAnswer(_Answer):
    """`/api/operation`: the owner's two settings, the reserve on the raw scale."""

    real_mode: Operation
    backup_reserve_percent: float = Field(description="%, raw scale")


class Soe(_Answer):
    """`/api/system_status/soe`."""

    percentage: float = Field(description="%, raw scale")


class Status(_Answer):
    """`/api/status` (the local gateway's; the cloud maps its own site data onto it)."""

    din: str | None = None
    version: str | None = None
    device_type: str | None = None


@dataclass(frozen=True)
class Settings:
    """The two settings a Powerwall's owner sets, and that a hold changes: its operating mode
    and its backup reserve, on the app's scale."""

    operation: Operation
    reserve: float  # %, app scale

    @classmethod
    def of(cls, answer: OperationAnswer) -> Settings:
        # unrounded, so that the owner's raw reserve comes back exactly when it is restored
        return cls(answer.real_mode, app_percent(answer.backup_reserve_percent))

    def describe(self) -> str:
        return f"operation {self.operation}, reserve {round(self.reserve, 1):g} %"


@dataclass(frozen=True)
class Reading:
    """One poll of the gateway."""

    aggregates: Aggregates
    soe: Soe
    settings: Settings

    def battery_state(self, now: datetime) -> BatteryState:
        a = self.aggregates
        power = battery_power(a.battery.instant_power)
        return BatteryState(
            ts=now,
            soc=round(app_percent(self.soe.percentage), 1),
            power=power,
            # the Powerwall is AC-coupled: what it gives goes to the home, what it takes comes
            # from the home's AC. The EV guard adds the one and takes off the other, so a
            # Powerwall covering the car cannot hide it from the house power.
            output_home_power=max(-power, 0.0),
            grid_input_power=max(power, 0.0),
            pv_power=a.solar.instant_power,
            site_power=a.site.instant_power,
            load_power=a.load.instant_power,
            reserve=round(self.settings.reserve, 1),
            operation=self.settings.operation,
        )
