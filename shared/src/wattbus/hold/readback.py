"""Reading back what was written: a 200 to a write does not mean the device applied it."""

from __future__ import annotations

from typing import Any

from wattbus.hold.exceptions import NotAppliedError
from wattbus.hold.port import BatteryPort, R, Settings, as_read, describe, shows


async def verify(port: BatteryPort[R, Any], settings: Settings) -> None:
    """Raise `NotAppliedError` unless a fresh reading shows every one of `settings`."""
    reading = await port.read()
    wrong = []
    for name, value in settings.items():
        spec = port.specs[name]
        actual = port.value(reading, name)
        if not shows(spec, actual, value):
            wrong.append(f"{spec.label} {as_read(actual, spec.unit)} "
                         f"(wrote {as_read(value, spec.unit)})")  # fmt: skip
    if wrong:
        raise NotAppliedError("device reads back " + ", ".join(wrong))


def not_shown(port: BatteryPort[R, Any], reading: R, settings: Settings) -> dict[str, str]:
    """Of `settings`, those `reading` does not show, each with what it shows instead."""
    failed = {}
    for name, value in settings.items():
        actual = port.value(reading, name)
        if not shows(port.specs[name], actual, value):
            failed[name] = (f"device reads back {describe({name: actual}, port.specs)} "
                            f"(wrote {describe({name: value}, port.specs)})")  # fmt: skip
    return failed
