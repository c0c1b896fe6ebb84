"""Each window's life, from one poll to the next: a pure function of what is stored, what
Kraken lists now, and the time.

- **planned**: listed for the first time;
- **rescheduled**: still listed, but its slots moved (its original times are kept, and its
  `sequence` goes up by one each time: a calendar invite's SEQUENCE);
- **withdrawn**: gone from the plan before it ran, or while it ran (cut short);
- **completed**: it ended; or it left the plan after its last dispatch's own end (Kraken
  drops a dispatch when it ends, while its last half hour is still billed cheap); or
  `completedDispatches` reports it (a window thought withdrawn that did run).

A window listed now is the stored window of the same kind whose slots it overlaps; so a
window moved by a few minutes, extended, or cut short keeps its id. A completed dispatch that
matches nothing stored (it ran while the bridge was down) is kept silently, as history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from wattbus.models import DispatchKind, DispatchWindow

from wattbus_kraken.windows import Window


class Status(StrEnum):
    PLANNED = "planned"
    RESCHEDULED = "rescheduled"
    WITHDRAWN = "withdrawn"
    COMPLETED = "completed"


OPEN = (Status.PLANNED, Status.RESCHEDULED)

# the notices' codes (docs/topics.md)
PLANNED = "dispatch_planned"
MOVED = "dispatch_moved"
WITHDRAWN = "dispatch_withdrawn"
COMPLETED = "dispatch_completed"


@dataclass(frozen=True)
class Stored:
    """A window as the store keeps it; `start` and `end` are slots (rounded out), in UTC."""

    id: str
    kind: DispatchKind
    start: datetime
    end: datetime
    raw_end: datetime
    original_start: datetime
    original_end: datetime
    status: Status
    sequence: int
    first_seen: datetime
    updated: datetime
    energy: float | None = None

    @property
    def open(self) -> bool:
        return self.status in OPEN

    def published(self) -> DispatchWindow:
        return DispatchWindow(start=self.start, end=self.end, kind=self.kind, energy=self.energy)

    def overlaps(self, w: Window) -> bool:
        return self.kind is w.kind and self.start < w.end and w.start < self.end


@dataclass(frozen=True)
class Change:
    """A window that entered a state a person would want to hear of: a notice."""

    code: str
    window: Stored
    before: Stored | None = None


def ended(stored: Sequence[Stored], now: datetime) -> tuple[list[Stored], list[Change]]:
    """Open windows whose last slot is over: completed."""
    done = [replace(s, status=Status.COMPLETED, updated=now)
            for s in stored if s.open and s.end <= now]  # fmt: skip
    return done, [Change(COMPLETED, s) for s in done]


def reconcile(
    stored: Sequence[Stored],
    planned: Sequence[Window] | None,
    completed: Sequence[Window] | None,
    now: datetime,
    new_id: Callable[[], str],
) -> tuple[list[Stored], list[Change]]:
    """The rows that changed (or are new) and the notices, for one poll. `planned` or
    `completed` is None when that list could not be read: nothing is concluded from it."""
    rows, changes = ended(stored, now)
    by_id = {s.id: s for s in stored} | {r.id: r for r in rows}

    def put(row: Stored, code: str | None = None, before: Stored | None = None) -> None:
        by_id[row.id] = row
        rows[:] = [r for r in rows if r.id != row.id] + [row]
        if code is not None:
            changes.append(Change(code, row, before))

    if planned is not None:
        unmatched = [s for s in by_id.values() if s.open]
        for w in (w for w in planned if w.end > now):
            match = next((s for s in unmatched if s.overlaps(w)), None)
            if match is None:
                put(Stored(new_id(), w.kind, w.start, w.end, w.raw_end, w.start, w.end,
                           Status.PLANNED, 0, now, now, w.energy), PLANNED)  # fmt: skip
                continue
            unmatched.remove(match)
            if (match.start, match.end) != (w.start, w.end):
                put(replace(match, start=w.start, end=w.end, raw_end=w.raw_end, energy=w.energy,
                            status=Status.RESCHEDULED, sequence=match.sequence + 1, updated=now),
                    MOVED, match)  # fmt: skip
            elif (match.raw_end, match.energy) != (w.raw_end, w.energy):
                put(replace(match, raw_end=w.raw_end, energy=w.energy, updated=now))
        for s in unmatched:
            gone = Status.COMPLETED if s.raw_end <= now else Status.WITHDRAWN
            put(replace(s, status=gone, updated=now),
                COMPLETED if gone is Status.COMPLETED else WITHDRAWN, s)  # fmt: skip

    for c in completed or ():
        matches = [s for s in by_id.values() if s.overlaps(c)]
        for s in matches:
            ran = s.status is Status.WITHDRAWN or (s.open and s.raw_end <= now)
            if ran:
                put(replace(s, status=Status.COMPLETED, updated=now), COMPLETED, s)
        if not matches and c.end <= now:
            put(Stored(new_id(), c.kind, c.start, c.end, c.raw_end, c.start, c.end,
                       Status.COMPLETED, 0, now, now, c.energy))  # fmt: skip
    return rows, changes
