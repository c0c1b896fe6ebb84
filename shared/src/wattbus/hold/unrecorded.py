"""A battery that looks held with no record to say what it had: the file was lost mid-hold,
or a power cut of the host took it before it was synced. Its held values must not be saved
as the owner's (the release would then keep it held for good), and a release finds nothing
to restore: the configured fallbacks cover both (a fallback the device would refuse gives way
to the port's stand-in). A setting without one is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from wattbus.hold.port import BatteryPort, R, S, Settings, Value, as_read, describe
from wattbus.hold.readback import verify
from wattbus.hold.restore import substitute

log = logging.getLogger(__name__)


def looking_held(port: BatteryPort[R, S], reading: R) -> list[str]:
    """The settings of every route `reading` looks held by."""
    names = {
        name for route, settings in port.routes if port.looks_held(reading, route)
        for name in settings
    }  # fmt: skip
    return [name for name in port.specs if name in names]


def prior(port: BatteryPort[R, S], reading: R, fallbacks: Mapping[str, Value]) -> S:
    """What the battery has now, to be restored later; a fallback in place of a setting
    that looks held."""
    saved = port.save(reading)
    lost: Settings = {}
    for name in looking_held(port, reading):
        spec = port.specs[name]
        shown = as_read(port.value(reading, name), spec.unit)
        if name in fallbacks:
            log.warning("%s already %s with no hold record: saving the fallback",
                        spec.label, shown)  # fmt: skip
            lost[name] = fallbacks[name]
        else:
            log.warning("%s already %s with no hold record and no fallback: "
                        "the release will leave it there", spec.label, shown)  # fmt: skip
    return saved.model_copy(update=lost) if lost else saved


async def release_unrecorded(port: BatteryPort[R, S], fallbacks: Mapping[str, Value]) -> bool:
    """A release with no record: the fallbacks for the settings that look held, read back.
    True when it wrote any."""
    if not fallbacks:
        return False
    reading = await port.read()
    written: Settings = {}
    for name in looking_held(port, reading):
        if name in fallbacks:
            value, why = substitute(port, reading, name, fallbacks[name])
            if why:
                log.warning("%s", why)
            if value is not None:
                written[name] = value
    if not written:
        return False
    log.warning("device looks held with no record: fallback %s", describe(written, port.specs))
    await port.write(written, None)
    await verify(port, written)
    return True
