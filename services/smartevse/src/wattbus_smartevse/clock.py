"""The time the shell decides by, and its one timer.

The feed's rules are about seconds (a reading younger than 5 s, one message a second, a
repeat every 5 s, a read-back within 5 s). Tests drive them with a clock of their own that
they move by hand; the shell must then also wait by that clock, not by the event loop's."""

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
