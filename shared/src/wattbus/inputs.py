"""Other services' states and availability, read off the bus by a service that acts on them
(the controller, the SmartEVSE bridge).

A payload that does not read is ignored: the last good state ages out as it would if the topic
fell silent, so nothing is acted on that was not understood. It is reported once, as a log line
and through `report` (an `error` event naming the topic), until that topic carries a good
payload again; not on every message, since a meter publishes every second.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from pydantic import ValidationError

from wattbus.bus import OFFLINE, ONLINE
from wattbus.models import State

S = TypeVar("S", bound=State)
Report = Callable[[str, str], Awaitable[None]]  # (topic, reason)


def fresh(state: S | None, now: datetime, stale_after: float) -> S | None:
    """The state while it is younger than `stale_after` s, else None. One stamped further
    ahead than that is no fresher: a clock that runs ahead would keep a dead device's last
    state fresh for as long as it is ahead. A state averaged over a span (a 5-minute block)
    is given its `slack()` on top, so a cloud meter is usable without a longer limit for
    every device: a dead Shelly still goes stale after `stale_after`."""
    if state is None:
        return None
    age = (now - state.ts).total_seconds()
    if age > stale_after + state.slack() or age < -stale_after:
        return None
    return state


class BusInputs:
    def __init__(self, log: logging.Logger, report: Report) -> None:
        self._log = log
        self._report = report
        self._bad_topics: set[str] = set()

    async def state(self, model: type[S], topic: str, payload: bytes) -> S | None:
        try:
            state = model.model_validate_json(payload)
        except ValidationError as err:
            await self._bad(topic, f"ignoring a bad state: {err.errors()[0]['msg']}")
            return None
        self._bad_topics.discard(topic)
        return state

    async def availability(self, topic: str, payload: bytes) -> bool | None:
        """True online, False offline, None for anything else (ignored)."""
        word = payload.strip().decode(errors="replace")
        if word not in (ONLINE, OFFLINE):
            await self._bad(topic, f"ignoring an availability of {word[:32]!r}")
            return None
        self._bad_topics.discard(topic)
        return word == ONLINE

    async def _bad(self, topic: str, reason: str) -> None:
        if topic not in self._bad_topics:
            self._bad_topics.add(topic)
            self._log.warning("%s: %s", topic, reason)
            await self._report(topic, reason)
