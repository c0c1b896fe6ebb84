"""The day the dispatch replay runs: what the supplier lists and when, when the car charges,
and what the house uses. Plain values, no clock: both tools see the same day.

The day runs from 06:00, when one night's fixed cheap hours end, to 06:00 the next morning,
in January (London is on UTC, so the times below read the same in both). The supplier's list
changes through it the ways Kraken's does: a window planned hours ahead, one moved before it
starts, one withdrawn while it runs, one listed only after it began, one across midnight, and
the owner's boost (not cheap). The car's sessions start with a window, late, finish early and
run past a window's end; each start moves by a seeded jitter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from wattbus.models import DispatchKind, DispatchWindow

START = datetime(2026, 1, 14, 6, 0, tzinfo=UTC)
END = START + timedelta(days=1)
SLOT = timedelta(minutes=30)
CAR_POWER = 7400.0  # W: a 32 A single-phase charge
JITTER = 60.0  # s: the most a car's start moves after its planned second


def at(hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """A time of the day; hours before 06:00 are the next morning's."""
    day = START if hh >= 6 else START + timedelta(days=1)
    return day.replace(hour=hh, minute=mm, second=ss)


@dataclass(frozen=True)
class Listing:
    """A change to the supplier's list at `at`: window `name` listed as start-end, or
    withdrawn (start None)."""

    at: datetime
    name: str
    start: datetime | None
    end: datetime | None = None
    kind: DispatchKind = DispatchKind.SMART
    what: str = ""


@dataclass(frozen=True)
class Session:
    """The car draws `CAR_POWER` from `start` to `end`."""

    start: datetime
    end: datetime
    what: str


@dataclass(frozen=True)
class Cheap:
    """A stretch the supplier bills at the cheap rate because a smart window ran, outside the
    fixed cheap hours: where the battery should give the car nothing."""

    name: str
    start: datetime
    end: datetime
    stopped: datetime | None = None  # the dispatch itself stopped here (withdrawn mid-slot)


@dataclass(frozen=True)
class Day:
    listings: tuple[Listing, ...]
    sessions: tuple[Session, ...]
    cheap: tuple[Cheap, ...]

    def listed(self, t: datetime) -> dict[str, DispatchWindow]:
        """The supplier's list as a poll at `t` gets it: every window not yet ended."""
        windows: dict[str, DispatchWindow] = {}
        for change in self.listings:
            if change.at > t:
                break
            if change.start is None or change.end is None:
                windows.pop(change.name, None)
            else:
                windows[change.name] = DispatchWindow(
                    start=change.start, end=change.end, kind=change.kind
                )
        return {n: w for n, w in windows.items() if w.end > t}

    def smart_running(self, t: datetime) -> bool:
        """What the dispatched device's state says (`SMART_CONTROL_IN_PROGRESS`): a smart
        dispatch runs now, listed or not (in the fixed cheap hours neither tool acts)."""
        return any(c.start <= t < (c.stopped or c.end) for c in self.cheap)

    def charging(self, t: datetime) -> bool:
        return any(s.start <= t < s.end for s in self.sessions)

    def car(self, t: datetime) -> float:
        return CAR_POWER if self.charging(t) else 0.0

    def cheap_now(self, t: datetime) -> Cheap | None:
        return next((c for c in self.cheap if c.start <= t < c.end), None)


def house(t: datetime) -> float:
    """The house's own use in W, the car aside: a quiet base, a working day, an evening."""
    h = t.hour + t.minute / 60
    if 7 <= h < 8.5:
        return 1100.0  # breakfast
    if 17.5 <= h < 19.5:
        return 1600.0  # cooking
    if 8.5 <= h < 23:
        return 550.0
    return 320.0


def plan(seed: int) -> Day:
    """The day, with each car start moved by 0 to `JITTER` s (seeded)."""
    rng = random.Random(seed)

    def late(t: datetime) -> datetime:
        return t + timedelta(seconds=rng.uniform(0, JITTER))

    listings = (
        Listing(at(7, 9, 40), "boost", at(7, 15), at(7, 45), DispatchKind.BOOST,
                "the owner's boost 07:15-07:45 listed"),
        Listing(at(9, 2, 10), "W1", at(13, 30), at(14, 30), what="W1 13:30-14:30 planned"),
        Listing(at(12, 10, 5), "W2", at(16, 0), at(17, 0), what="W2 16:00-17:00 planned"),
        Listing(at(15, 35, 30), "W2", at(16, 30), at(17, 30), what="W2 moved to 16:30-17:30"),
        Listing(at(17, 40, 0), "W3", at(19, 0), at(20, 0), what="W3 19:00-20:00 planned"),
        Listing(at(19, 20, 0), "W3", None, what="W3 withdrawn while it runs"),
        Listing(at(21, 6, 0), "W4", at(21, 0), at(22, 0), what="W4 21:00-22:00 listed late"),
        Listing(at(22, 5, 0), "W5", at(23, 30), at(1, 30), what="W5 23:30-01:30 planned"),
    )  # fmt: skip
    sessions = (
        Session(late(at(7, 15)), late(at(7, 50)), "boost charge"),
        Session(late(at(13, 30)), late(at(14, 52)), "starts with W1, runs past its end"),
        Session(late(at(16, 47)), late(at(17, 12)), "starts late in W2, ends early"),
        Session(late(at(19, 0)), late(at(20, 20)), "starts with W3, runs past its withdrawal"),
        Session(late(at(20, 58)), late(at(21, 40)), "already on when W4 starts"),
        Session(late(at(23, 30)), late(at(1, 40)), "starts with W5, across midnight"),
    )
    cheap = (
        Cheap("W1", at(13, 30), at(14, 30)),
        Cheap("W2", at(16, 30), at(17, 30)),
        Cheap("W3", at(19, 0), at(19, 30), at(19, 20)),  # withdrawn, but its slot is billed cheap
        Cheap("W4", at(21, 0), at(22, 0)),
        Cheap("W5", at(23, 30), at(0, 0)),  # from midnight the fixed cheap hours
    )
    return Day(listings, sessions, cheap)
