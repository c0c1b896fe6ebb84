"""A SolarFlow's side of the hold (`wattbus.hold`): what it saves, how it is written and read
back, and what a held unit looks like. A hold keeps the battery from discharging by minSoc
100 % or, where the firmware ignores that, outputLimit 0.

Saved are all the settings a hold writes: `minSoc`, `outputLimit`, and `smartMode`, which goes
with every write. The hold itself is written in RAM (smartMode 1); the restore carries the
owner's own smartMode, so an owner at smartMode 0 gets one flash write per hold and the unit
exactly as it was.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict
from wattbus.hold import Settings, SettingSpec, Value, describe
from wattbus.models import HoldRoute

from wattbus_zendure.client import SolarFlow
from wattbus_zendure.exceptions import DeviceResponseError, ZendureError
from wattbus_zendure.models import Properties

HELD_MIN_SOC = 100.0  # %: a floor at full charge means the battery never discharges
HELD_OUTPUT_LIMIT = 0.0  # W: no AC output, so nothing flows to the home (or the EV)
PERCENT_TOLERANCE = 0.05  # %: half the device's 0.1 % step
WATT_TOLERANCE = 0.5  # W: the device works in whole watts
# charging from AC: outputLimit 0 is normal there, so with no record it is no sign of a hold
AC_MODE_INPUT = 1
# %: what zenSDK documents for minSoc (0-500, tenths). Some firmware takes more (the hold's
# 100 % relies on it where it can), but a user's value above this may be refused at release.
USER_MIN_SOC_MAX = 50.0

SPECS = {
    "min_soc": SettingSpec("minSoc", "%", PERCENT_TOLERANCE),
    "output_limit": SettingSpec("outputLimit", "W", WATT_TOLERANCE),
}
ROUTES: tuple[tuple[HoldRoute, Settings], ...] = (
    (HoldRoute.MIN_SOC, {"min_soc": HELD_MIN_SOC}),
    (HoldRoute.OUTPUT_LIMIT, {"output_limit": HELD_OUTPUT_LIMIT}),
)


class Saved(BaseModel):
    """The battery's own settings, as they were before the hold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_soc: float  # %
    output_limit: float  # W
    # the device's own smartMode (1 RAM, 0 flash); None in a version-1 record, or when the
    # device did not report it: the restore is then written in RAM
    smart_mode: Literal[0, 1] | None = None

    def describe(self) -> str:
        """For the answer to a release: what the owner has back."""
        mode = "" if self.smart_mode is None else f", smartMode {self.smart_mode}"
        settings: Settings = {"min_soc": self.min_soc, "output_limit": self.output_limit}
        return describe(settings, SPECS) + mode


class SolarFlowPort:
    """The hold's view of one SolarFlow (`wattbus.hold.BatteryPort`)."""

    specs = SPECS
    routes = ROUTES
    saved_model = Saved
    errors = (ZendureError,)

    def __init__(self, flow: SolarFlow) -> None:
        self.flow = flow

    async def read(self) -> Properties:
        return (await self.flow.report()).properties

    async def write(self, settings: Settings, restoring: Saved | None) -> None:
        """A restore carries the owner's smartMode; every other write is in RAM."""
        await self.flow.write_settings(
            min_soc=_number(settings, "min_soc"),
            output_limit=_number(settings, "output_limit"),
            owners_smart_mode=None if restoring is None else restoring.smart_mode,
        )

    def value(self, reading: Properties, name: str) -> Value | None:
        if name == "min_soc":
            return reading.min_soc_percent
        if name == "output_limit":
            return reading.output_limit
        raise KeyError(name)

    def save(self, reading: Properties) -> Saved:
        min_soc, output_limit = reading.min_soc_percent, reading.output_limit
        if min_soc is None or output_limit is None:
            raise DeviceResponseError("report lacks minSoc or outputLimit: nothing to save")
        smart_mode = reading.smart_mode if reading.smart_mode in (0, 1) else None
        return Saved(min_soc=min_soc, output_limit=output_limit, smart_mode=smart_mode)

    def looks_held(self, reading: Properties, route: HoldRoute) -> bool:
        """minSoc 100 % is never an owner's own (zenSDK documents 0-50 %); outputLimit 0 is
        only a guess, and none while the unit charges from AC."""
        if route is HoldRoute.MIN_SOC:
            return _close(reading.min_soc_percent, HELD_MIN_SOC, PERCENT_TOLERANCE)
        return reading.output_limit == HELD_OUTPUT_LIMIT and reading.ac_mode != AC_MODE_INPUT

    def unrestored(self, reading: Properties, saved: Saved) -> str | None:
        """A smartMode that does not read back counts against the settings written with it."""
        if saved.smart_mode is None or reading.smart_mode == saved.smart_mode:
            return None
        return f"device reads back smartMode {reading.smart_mode} (wrote {saved.smart_mode})"

    def refuses(self, reading: Properties, name: str, value: Value) -> str | None:
        """The ranges the bridge knows: minSoc as zenSDK documents it, outputLimit up to the
        unit's own `inverseMaxPower`, which it reports."""
        if name == "min_soc":
            return min_soc_refusal(value)
        cap = reading.inverse_max_power
        top = math.inf if cap is None else cap
        if isinstance(value, str) or not (math.isfinite(value) and 0 <= value <= top):
            return f"outside what this SolarFlow takes (0-{top:g} W)"
        return None

    def stand_in(self, reading: Properties, name: str) -> Value | None:
        """For an output limit, the unit's own `inverseMaxPower`: the output cap its owner set
        (800 W where the law says so), which the unit always takes as an output limit, where
        an output limit left at 0 would hold it for good."""
        top = reading.inverse_max_power
        return None if name != "output_limit" or top is None else float(top)


def min_soc_refusal(value: Value) -> str | None:
    """Why a SolarFlow may refuse `value` as minSoc, or None: a check that needs no reading,
    so an owner's value is refused even while the unit is away."""
    if isinstance(value, str) or not (math.isfinite(value) and 0 <= value <= USER_MIN_SOC_MAX):
        return f"outside what a SolarFlow takes (0-{USER_MIN_SOC_MAX:g} %)"
    return None


def _number(settings: Settings, name: str) -> float | None:
    value = settings.get(name)
    if isinstance(value, str):
        raise ValueError(f"{name} must be a number, not {value!r}")
    return value


def _close(actual: float | None, expected: float, tolerance: float) -> bool:
    return actual is not None and math.isclose(actual, expected, abs_tol=tolerance)
