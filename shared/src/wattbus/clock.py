"""The time a service's shell decides by, and its one timer.

A shell whose rules are about time (the SmartEVSE feed's seconds, the tariff's windows and
poll schedule) decides by `now()` and sleeps with `wait`. Tests drive it with a clock of their
own that they move by hand; the shell must then also wait by that clock, not by the event
loop's."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Protocol

from wattbus.models import utcnow


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def wait(self, wake: asyncio.Event, until: datetime | None) -> None:
        """Return once `wake` is set or `until` has come (never, for None)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()

    async def wait(self, wake: asyncio.Event, until: datetime | None) -> None:
        delay = None if until is None else max(0.0, (until - utcnow()).total_seconds())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await wake.wait()
