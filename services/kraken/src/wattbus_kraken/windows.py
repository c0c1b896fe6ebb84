"""Dispatches as billing sees them: UTC, rounded out to half-hour slots, merged.

Kraken bills any half hour that a smart dispatch touches at the cheap rate, so a dispatch from
12:10 to 12:40 makes 12:00 to 13:00 cheap. Dispatches come with offsets (`+01:00` in summer);
everything here is UTC, so a window across a clock change is the same length as it was meant.
Windows of one kind that overlap or touch after rounding become one; a boost (the owner's own
charge, normal rates) never merges into a smart window, so the two may overlap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from wattbus.models import DispatchKind, DispatchWindow

SLOT = timedelta(minutes=30)
WH_PER_KWH = 1000.0


@dataclass(frozen=True)
class Dispatch:
    """One dispatch as Kraken lists it, in UTC; `energy` in Wh."""

    start: datetime
    end: datetime
    kind: DispatchKind
    energy: float | None = None


@dataclass(frozen=True)
class Window:
    """Slots billed as one: `start` and `end` rounded out; `raw_end` the latest end of the
    dispatches in it, to tell a window that ran to plan from one withdrawn in its last slot."""

    start: datetime
    end: datetime
    kind: DispatchKind
    raw_end: datetime
    energy: float | None = None

    def published(self) -> DispatchWindow:
        return DispatchWindow(start=self.start, end=self.end, kind=self.kind, energy=self.energy)


def utc(value: datetime) -> datetime:
    """An aware time in UTC. A time without an offset is refused: its hour is a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value.isoformat()} has no UTC offset")
    return value.astimezone(UTC)


def floor_slot(t: datetime) -> datetime:
    t = utc(t)
    return t.replace(minute=t.minute - t.minute % 30, second=0, microsecond=0)


def ceil_slot(t: datetime) -> datetime:
    down = floor_slot(t)
    return down if down == utc(t) else down + SLOT


def kwh(value: float | str | None) -> float | None:
    """Kraken's kWh (a number, or a decimal in a string) as Wh. `delta` comes negative from
    some accounts and positive from others: the energy is its size."""
    if value is None:
        return None
    return abs(float(value)) * WH_PER_KWH


def normalise(dispatches: Iterable[Dispatch]) -> list[Window]:
    """Rounded out to slots, then merged per kind where they overlap or touch; by start."""
    merged: list[Window] = []
    rounded = sorted(
        (Window(floor_slot(d.start), ceil_slot(d.end), d.kind, utc(d.end), d.energy)
         for d in dispatches if d.end > d.start),
        key=lambda w: (w.start, w.kind),
    )  # fmt: skip
    for w in rounded:
        same = next((m for m in reversed(merged) if m.kind is w.kind), None)
        if same is not None and w.start <= same.end:
            merged[merged.index(same)] = _join(same, w)
        else:
            merged.append(w)
    return sorted(merged, key=lambda w: (w.start, w.kind))


def _join(a: Window, b: Window) -> Window:
    energy = None if a.energy is None and b.energy is None else (a.energy or 0) + (b.energy or 0)
    return Window(min(a.start, b.start), max(a.end, b.end), a.kind, max(a.raw_end, b.raw_end),
                  energy)  # fmt: skip


def running(windows: Iterable[DispatchWindow], now: datetime) -> DispatchWindow | None:
    """The window running at `now`: a smart one if any (it decides the rate), else another."""
    now_running = [w for w in windows if w.start <= now < w.end]
    smart = [w for w in now_running if w.kind is DispatchKind.SMART]
    return next(iter(smart or now_running), None)


def next_change(windows: Iterable[DispatchWindow], now: datetime) -> datetime | None:
    """The next start or end after `now`: when `active` and `current` may change."""
    edges = [t for w in windows for t in (w.start, w.end) if t > now]
    return min(edges, default=None)
