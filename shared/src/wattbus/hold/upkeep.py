"""What a battery bridge does with its holder, the same for every battery: on each poll, the
lease's expiry and a dropped hold put back; on each command, the release and the hold, and the
words of the answer.

A device that refuses or ignores a write answered: it is reachable, so its state is still read
and published, and only a device that does not answer fails the poll (and shows offline)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, TypeVar, runtime_checkable

from wattbus.commands import CommandError
from wattbus.hold.exceptions import NotAppliedError, RefusedError
from wattbus.hold.holder import Holder, Release
from wattbus.hold.port import R, S
from wattbus.models import HoldRoute

log = logging.getLogger(__name__)

REFUSALS = (RefusedError, NotAppliedError)  # the device answered, and said no
T = TypeVar("T")  # one poll's answer, which holds the reading the hold looks at


@runtime_checkable
class Describes(Protocol):
    def describe(self) -> str: ...


async def poll(
    holder: Holder[R, S],
    read: Callable[[], Awaitable[T]],
    reading: Callable[[T], R],
    now: datetime,
    device_id: str,
) -> T:
    """One poll after the hold's upkeep: a restore that is due (the lease ran out, or a release
    is owed) first, then the device read, and read again if a hold it dropped (a reboot) had to
    be put back."""
    try:
        await holder.expire(now)
    except REFUSALS as err:
        log.error("%s: restore not applied, retrying next poll: %s", device_id, err)
    answer = await read()
    try:
        if await holder.keep(reading(answer)):
            answer = await read()
    except REFUSALS as err:
        log.error("%s: re-applying the hold failed: %s", device_id, err)
    return answer


def check_lease(hold: bool | None, lease: float | None) -> None:
    if lease is not None and hold is not True:
        raise CommandError("lease goes with hold: true")


async def release(holder: Holder[R, S], now: datetime) -> str:
    """The release, and what it did for the answer: what the owner has back."""
    saved = holder.saved
    released = await holder.release(now)
    restored = ""
    if isinstance(saved, Describes) and released is Release.RESTORED:
        restored = f" {saved.describe()}"
    return f"release: {released}{restored}"


def held(holder: Holder[R, S], route: HoldRoute) -> str:
    return f"held via {route} until {holder.expires:%H:%M:%S}"
