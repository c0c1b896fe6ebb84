"""What a held SolarFlow looks like, and whether a report shows a value written: the device's
own side of the hold. A hold keeps the battery from discharging by minSoc 100 % or, where the
firmware ignores that, outputLimit 0.
"""

from __future__ import annotations

import math

from wattbus_zendure.models import Properties
from wattbus_zendure.record import describe

HELD_MIN_SOC = 100.0  # %: a floor at full charge means the battery never discharges
HELD_OUTPUT_LIMIT = 0.0  # W: no AC output, so nothing flows to the home (or the EV)
PERCENT_TOLERANCE = 0.05  # %: half the device's 0.1 % step
WATT_TOLERANCE = 0.5  # W: the device works in whole watts
# charging from AC: outputLimit 0 is normal there, so with no record it is no sign of a hold
AC_MODE_INPUT = 1


def close(actual: float | None, expected: float, tolerance: float) -> bool:
    return actual is not None and math.isclose(actual, expected, abs_tol=tolerance)


def reads(props: Properties, name: str) -> str:
    value = props.min_soc_percent if name == "min_soc" else props.output_limit
    return describe({name: value})


def reads_back(props: Properties, name: str, value: float) -> bool:
    if name == "min_soc":
        return close(props.min_soc_percent, value, PERCENT_TOLERANCE)
    return close(props.output_limit, value, WATT_TOLERANCE)


def min_soc_looks_held(props: Properties) -> bool:
    return close(props.min_soc_percent, HELD_MIN_SOC, PERCENT_TOLERANCE)


def output_looks_held(props: Properties) -> bool:
    """A guess, for a device with no record: is its outputLimit 0 a lost hold?"""
    return props.output_limit == HELD_OUTPUT_LIMIT and props.ac_mode != AC_MODE_INPUT
