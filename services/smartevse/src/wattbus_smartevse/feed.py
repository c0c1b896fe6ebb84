"""The mains feed's one decision: what to send the charger now, or why nothing.

Never stale: a reading is fed only while it is younger than `max_age` (5 s by default), and
each reading at most once. Nothing is ever repeated from memory, so when the meter goes
silent or offline the feed stops, and the charger's own 11 s timeout stops the charging (in
Smart and Solar mode) rather than letting it run on an old number. Meter bridges publish
every reading (docs/topics.md), so a steady house still brings a new `ts` each second.

At most one message a second: a reading that comes sooner waits (`Wait`) for the shell to
ask again then, with whatever reading is latest by that time.

Pure: the shell passes the latest meter state (`None` once the meter says `offline`), the
memory this function returned last time, and `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from wattbus.bridge import DeviceEvent
from wattbus.models import EventKind, MeterState

from wattbus_smartevse.mains import (
    DECI,
    NOMINAL_VOLTAGE,
    PHASE_LIMIT,
    MainsMeter,
    Phases,
    UnreadableReading,
    mains_meter,
)

MAX_AGE = 5.0  # s: the oldest reading fed; the firmware stops after 11 s without one
MIN_GAP = timedelta(seconds=1)  # between two messages to the charger: at most one a second
MAINS_CLAMPED = "mains_clamped"  # the notice's code, listed in docs/topics.md


@dataclass(frozen=True)
class FeedOptions:
    phases: Phases = 3
    voltage: float = NOMINAL_VOLTAGE  # V, for a split when the meter reports none
    five_fields: bool = False  # `L1:L2:L3:W:Wh`, for the dingo firmware
    max_age: float = MAX_AGE  # s


@dataclass(frozen=True)
class FeedMemory:
    sent_at: datetime | None = None  # when the last message went
    reading: datetime | None = None  # the `ts` of the reading it carried
    clamping: bool = False  # a clamp was reported, and every reading fed since was clamped


class NotFed(StrEnum):
    NO_READING = "no_reading"  # none yet, or the meter is offline
    STALE = "stale"
    AHEAD = "ahead"  # stamped further ahead of now than max_age: the clocks disagree
    SENT = "sent"  # this reading has been fed already
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Feed:
    """Send `payload` on `<prefix>/Set/MainsMeter`, and publish `notice` if there is one."""

    payload: str
    mains: MainsMeter
    notice: DeviceEvent | None = None


@dataclass(frozen=True)
class Wait:
    """Nothing now; decide again at `until`."""

    until: datetime


@dataclass(frozen=True)
class Skip:
    why: NotFed
    reason: str


def decide(
    meter: MeterState | None, memory: FeedMemory, now: datetime, options: FeedOptions
) -> tuple[FeedMemory, Feed | Wait | Skip]:
    if meter is None:
        return memory, Skip(NotFed.NO_READING, "no reading: none yet, or the meter is offline")
    age = (now - meter.ts).total_seconds()
    if age >= options.max_age:
        return memory, Skip(NotFed.STALE, f"reading {age:.1f} s old (limit {options.max_age:g} s)")
    if age <= -options.max_age:
        return memory, Skip(NotFed.AHEAD, f"reading stamped {-age:.1f} s ahead: clocks disagree")
    if memory.reading is not None and meter.ts <= memory.reading:
        return memory, Skip(NotFed.SENT, "this reading has been fed already")
    if memory.sent_at is not None and now < memory.sent_at + MIN_GAP:
        return memory, Wait(memory.sent_at + MIN_GAP)
    try:
        mains = mains_meter(meter, phases=options.phases, voltage=options.voltage)
    except UnreadableReading as err:
        return memory, Skip(NotFed.UNREADABLE, f"reading cannot be fed: {err}")
    clamping = bool(mains.clamped)
    notice = _clamped(mains) if clamping and not memory.clamping else None
    feed = Feed(mains.payload(options.five_fields), mains, notice)
    return FeedMemory(sent_at=now, reading=meter.ts, clamping=clamping), feed


def _clamped(mains: MainsMeter) -> DeviceEvent:
    """Said once per streak of clamped readings, not every second."""
    measured = {f"l{c.phase}": c.measured / DECI for c in mains.clamped}
    sent = {f"l{c.phase}": c.sent / DECI for c in mains.clamped}
    words = ", ".join(f"L{n[1:]} {measured[n]:g} A as {sent[n]:g} A" for n in measured)
    return DeviceEvent(
        EventKind.NOTICE,
        MAINS_CLAMPED,
        f"mains outside the charger's range (±{PHASE_LIMIT / DECI:g} A): sent {words}",
        {"measured": measured, "sent": sent},
    )


def too_slow(meter_id: str, first: datetime, second: datetime, max_age: float) -> str | None:
    """Why a meter cannot feed the charger, from the `ts` of its first two readings, or None.

    Meter bridges publish every reading, so that gap is how often the meter is read. A meter
    read less often than `max_age` has each reading go stale before the next one comes: the
    charger would get one message and then time out, again and again, and a feed that works
    only now and then is worse than a clear refusal at start-up."""
    gap = (second - first).total_seconds()
    if gap <= max_age:
        return None
    return (
        f"meter {meter_id} is read every {gap:g} s, longer than the {max_age:g} s a reading "
        "stays fresh: too slow to feed the charger"
    )
