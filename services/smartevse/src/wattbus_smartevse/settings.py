"""SmartEVSE bridge settings (env prefix `WATTBUS_SMARTEVSE_`). The charger's topic prefix has
no default: the firmware's own (`SmartEVSE/<serial>`) holds the unit's serial number.

Every range is what the firmware and the feed's rules allow; a value outside one stops
start-up with one line naming the variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import SettingsConfigDict
from wattbus.settings import DeviceId, ServiceSettings, TopicPrefix, field_error

from wattbus_smartevse.feed import MAX_AGE, FeedOptions
from wattbus_smartevse.mains import NOMINAL_VOLTAGE, Phases
from wattbus_smartevse.passthrough import MAX_AGE as BATTERY_MAX_AGE
from wattbus_smartevse.passthrough import REPEAT_EVERY, Passthrough, PassthroughOptions

# s: two readings of a meter read every second; and at most what the firmware waits for one
METER_MAX_AGE_RANGE = (2.0, 10.0)
# s: above a battery bridge's 10 s heartbeat plus a repeat; at most the firmware's own expiry
BATTERY_MAX_AGE_RANGE = (10.0 + REPEAT_EVERY.total_seconds(), 60.0)
VOLTAGE_RANGE = (100.0, 250.0)  # V: the nominal voltages of the world's grids
RESERVE_MAX = 100.0  # A: past any home battery's charging current


def _phases(value: object) -> object:
    """1 or 3, as a number or as the text an environment variable holds; never `true`,
    which Python would count as 1."""
    if isinstance(value, str) and value in ("1", "3"):
        return int(value)
    if isinstance(value, bool) or value not in (1, 3):
        raise PydanticCustomError("phases", "Input should be 1 or 3 (the house's phases)")
    return value


class SmartEVSESettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_SMARTEVSE_")

    id: DeviceId = "smartevse"
    prefix: TopicPrefix = Field(description="the charger's MQTT prefix: SmartEVSE/<serial>")
    meter: DeviceId = Field("grid-meter", description="the wattbus id of the mains meter")
    battery: DeviceId | None = Field(None, description="the battery's id; none: no passthrough")
    five_fields: bool = Field(False, description="L1:L2:L3:W:Wh, for the dingo firmware")
    phases: Annotated[Phases, BeforeValidator(_phases)] = 3
    voltage: float = Field(
        NOMINAL_VOLTAGE,
        ge=VOLTAGE_RANGE[0],
        le=VOLTAGE_RANGE[1],
        allow_inf_nan=False,
        description="V, when the meter reports none",
    )
    meter_max_age: float = Field(
        MAX_AGE, ge=METER_MAX_AGE_RANGE[0], le=METER_MAX_AGE_RANGE[1], allow_inf_nan=False
    )
    battery_max_age: float = Field(
        BATTERY_MAX_AGE,
        ge=BATTERY_MAX_AGE_RANGE[0],
        le=BATTERY_MAX_AGE_RANGE[1],
        allow_inf_nan=False,
    )
    passthrough: Passthrough = Passthrough.AS_IS
    reserve: float | None = Field(
        None, gt=0, le=RESERVE_MAX, allow_inf_nan=False, description="A, with passthrough reserve"
    )
    # the passthrough set at run time (`wattbus/<id>/set`) is kept here, as `<id>.json`
    state_dir: Path = Path("var")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """Raised on the field at fault, so the one line names its variable."""
        model = type(self).__name__
        if self.passthrough is Passthrough.RESERVE and self.reserve is None:
            raise field_error(model, "reserve", "is required with passthrough reserve")
        if self.passthrough is not Passthrough.RESERVE and self.reserve is not None:
            raise field_error(model, "reserve", "goes with passthrough reserve only")
        if self.battery is not None and self.battery == self.meter:
            raise field_error(model, "battery", "is the meter's id: a device is one or the other")
        if self.id in (self.meter, self.battery):
            raise field_error(model, "id", "is the id of the device it feeds from")
        return self

    @property
    def feed(self) -> FeedOptions:
        return FeedOptions(self.phases, self.voltage, self.five_fields, self.meter_max_age)

    @property
    def passthrough_options(self) -> PassthroughOptions:
        return PassthroughOptions(self.passthrough, self.reserve or 0.0, self.battery_max_age)
