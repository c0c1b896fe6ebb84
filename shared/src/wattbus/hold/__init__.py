"""The battery hold, once for every battery: a bridge plugs in its device's `BatteryPort`
and gets the record, the lease, read-back, re-hold, the restore and its fallbacks."""

from wattbus.hold.exceptions import (
    DeviceAnswerError,
    HoldError,
    HoldFileError,
    NotAppliedError,
    RefusedError,
)
from wattbus.hold.holder import Holder, Release, Setting, check_now
from wattbus.hold.port import BatteryPort, Settings, SettingSpec, Value, describe
from wattbus.hold.restore import RESTORE_ATTEMPTS

__all__ = [
    "RESTORE_ATTEMPTS",
    "BatteryPort",
    "DeviceAnswerError",
    "HoldError",
    "HoldFileError",
    "Holder",
    "NotAppliedError",
    "RefusedError",
    "Release",
    "Setting",
    "SettingSpec",
    "Settings",
    "Value",
    "check_now",
    "describe",
]
