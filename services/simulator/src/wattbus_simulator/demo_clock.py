"""The time of a demo evening: it starts at a chosen moment and runs `speed` times faster than
real time, so a dispatch evening of several half-hour slots passes in minutes.

Every part of that demo (the fakes, the bridges, the controller) reads this one clock: each
compares timestamps it made with timestamps others made, and a part on another clock would see
their states as hours old. Only what a part waits for is scaled; the event loop itself runs at
real speed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime, timedelta


class DemoClock:
    def __init__(self, start: datetime, speed: float) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.start = start
        self.speed = speed
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def __call__(self) -> datetime:
        return self.now()

    async def wait(self, wake: asyncio.Event, until: datetime | None) -> None:
        """`wattbus.clock.Clock`'s timer: `until` on this clock, in real seconds scaled down."""
        delay = None
        if until is not None:
            delay = max(0.0, (until - self.now()).total_seconds() / self.speed)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await wake.wait()
