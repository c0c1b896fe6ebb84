"""A `wattbus.clock.Clock` that tests move by hand: a shell's rules then run at the test's
pace, a simulated hour in no time, and every wait it starts ends only when the test says."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta


class FakeClock:
    """`now` moves only by `advance`, which also ends the waits it reaches (and only those: a
    wait the shell did not ask for never ends by itself)."""

    def __init__(self, start: datetime) -> None:
        self.current = start
        self._waiting: dict[asyncio.Event, datetime] = {}

    def now(self) -> datetime:
        return self.current

    async def wait(self, wake: asyncio.Event, until: datetime | None) -> None:
        if until is not None and self.current >= until:
            return
        if until is not None:
            self._waiting[wake] = until
        try:
            await wake.wait()
        finally:
            self._waiting.pop(wake, None)

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        for wake, until in self._waiting.items():
            if self.current >= until:
                wake.set()

    def waiting_until(self) -> datetime | None:
        """When the earliest wait the shell is in ends, or None if it waits for a message."""
        return min(self._waiting.values(), default=None)
