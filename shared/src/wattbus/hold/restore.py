"""Giving a battery back its saved settings, and ending a restore the device refuses.

A restore the device refuses cannot block the rest: the settings are written together, and
if the device refuses that request, each on its own, so that the ones it takes land. Those it
took stay taken; a later attempt (the next release, or the next poll for an owed one) writes
only the rest. One it still refuses after `RESTORE_ATTEMPTS` attempts is replaced by its
configured fallback (or the port's stand-in, where there is none or the device refuses it),
with a `restore_failed` error event, and the restore ends there: a battery is never held for
good because one saved value became unacceptable.

What is under way lives in memory: a restart of the bridge starts the restore over.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic

from wattbus.bridge import DeviceEvent, Outbox
from wattbus.hold.exceptions import NotAppliedError, RefusedError
from wattbus.hold.port import BatteryPort, R, S, Settings, Value, describe, settings_of
from wattbus.hold.readback import not_shown
from wattbus.models import EventKind

RESTORE_ATTEMPTS = 3  # releases or polls a refused setting is tried before its fallback


class Restore(Generic[R, S]):
    """The restore path of one battery's hold."""

    def __init__(
        self, port: BatteryPort[R, S], fallbacks: Mapping[str, Value], outbox: Outbox
    ) -> None:
        self._port = port
        self._fallbacks = fallbacks
        self._outbox = outbox
        self.under_way = False  # a restore has started: the hold is not to be kept
        # the settings the device has not taken yet, and how many attempts it refused
        self._remaining: Settings | None = None
        self._refused_attempts = 0
        self.substituted: Settings = {}  # fallbacks the last restore wrote in their place

    async def attempt(self, saved: S) -> bool:
        """One attempt at restoring `saved`; when it returns, the device has every setting
        back or a fallback in its place (then True). A refused attempt before the last
        raises `NotAppliedError`, and the next one writes only what is left."""
        self.under_way = True
        remaining = self._remaining
        if remaining is None:
            remaining = settings_of(saved, self._port.specs)
        failed = await self.put_back(remaining, saved)
        self.substituted = {}
        if not failed:
            return False
        self._remaining = {k: v for k, v in remaining.items() if k in failed} or remaining
        self._refused_attempts += 1
        why = "; ".join(failed.values())
        if self._refused_attempts < RESTORE_ATTEMPTS:
            raise NotAppliedError(
                f"restore attempt {self._refused_attempts} of {RESTORE_ATTEMPTS}: {why}"
            )
        await self._give_up(self._remaining, saved, why)
        return True

    def deferred(self) -> None:
        """A saved setting changed: a restore under way writes the new value too."""
        self._remaining = None

    def end(self) -> None:
        """The hold is back, or gone: nothing is under way."""
        self.under_way = False
        self._remaining = None
        self._refused_attempts = 0

    async def put_back(self, settings: Settings, saved: S) -> dict[str, str]:
        """Write the owner's settings as a restore and read them back; what did not take,
        with why. All in one request; if the device refuses it, each setting on its own."""
        refused: dict[str, str] = {}
        try:
            await self._port.write(settings, saved)
        except RefusedError as err:
            if len(settings) == 1:
                refused = dict.fromkeys(settings, str(err))
            else:
                for name, value in settings.items():
                    try:
                        await self._port.write({name: value}, saved)
                    except RefusedError as one:
                        refused[name] = str(one)
        reading = await self._port.read()
        rest = {k: v for k, v in settings.items() if k not in refused}
        failed = refused | not_shown(self._port, reading, rest)
        taken = [name for name in settings if name not in failed]
        if taken and (why := self._port.unrestored(reading, saved)) is not None:
            failed |= dict.fromkeys(taken, why)
        return failed

    async def _give_up(self, refused: Settings, saved: S, why: str) -> None:
        """The fallbacks in place of what the device keeps refusing, and an `error` event:
        a battery left held because one value became unacceptable would never discharge.
        A fallback the device would refuse or does refuse gives way to the port's stand-in;
        what neither can replace is left as the device has it. The restore ends here
        whatever the device took, with the event: a device that refuses every value would
        otherwise keep the battery held without end."""
        reading = await self._port.read()
        chosen: Settings = {}
        notes: list[str] = []
        for name in refused:
            value, note = substitute(self._port, reading, name, self._fallbacks.get(name))
            notes += [note] if note else []
            if value is not None:
                chosen[name] = value
        failed = await self.put_back(chosen, saved) if chosen else {}
        notes += failed.values()
        written = {k: v for k, v in chosen.items() if k not in failed}
        second: Settings = {}
        for name in failed:
            stand_in = self._port.stand_in(reading, name)
            if stand_in is not None and stand_in != chosen[name]:
                second[name] = stand_in
        if second:
            failed = await self.put_back(second, saved)
            notes += failed.values()
            written |= {k: v for k, v in second.items() if k not in failed}
        self.substituted = written
        left = sorted(k for k in refused if k not in written)
        specs = self._port.specs
        reason = f"the device refused restoring {describe(refused, specs)} {RESTORE_ATTEMPTS} times"
        reason += f" ({why})"
        if notes:
            reason += f"; also refused: {'; '.join(notes)}"
        if written:
            reason += f"; wrote {describe(written, specs)} instead"
        if left:
            reason += f"; nothing in place of {', '.join(left)}, left as the device has it"
        self._outbox.put(
            DeviceEvent(
                EventKind.ERROR,
                "restore_failed",
                reason,
                {"refused": dict(refused), "written": written, "left": left},
            )
        )


def substitute(
    port: BatteryPort[R, S], reading: R, name: str, fallback: Value | None
) -> tuple[Value | None, str | None]:
    """What to write in place of `name`: its fallback, unless `reading` shows the device
    would refuse it (then the port's stand-in, and why the fallback was passed over)."""
    if fallback is None:
        return port.stand_in(reading, name), None
    why = port.refuses(reading, name, fallback)
    if why is None:
        return fallback, None
    label = describe({name: fallback}, port.specs)
    return port.stand_in(reading, name), f"fallback {label}, {why}"
