"""What is sent and what is held back: the pure core of the notification service.

Like the tool it replaces, each kind is sent at most once per its interval (15 minutes by
default); what comes meanwhile is counted, and when the kind's interval has run out the
counts go out as one digest, with whatever else is held by then. A flapping meter is one
message per kind and then one digest per interval, not hundreds. An overall cap per hour
and quiet hours hold back the same way. No clock of its own: every call is given `now`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from wattbus_notify.kinds import LABELS, Kind, Notice
from wattbus_notify.quiet import QuietHours

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Rules:
    home: str
    intervals: dict[Kind, timedelta]  # every kind's, the off ones too
    enabled: frozenset[Kind]
    per_hour: int  # messages at most in any hour, digests included
    quiet: QuietHours | None = None


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    kinds: tuple[Kind, ...]
    digest: bool = False


@dataclass
class Held:
    count: int
    since: datetime
    last: Notice


@dataclass
class Limiter:
    rules: Rules
    last_sent: dict[Kind, datetime] = field(default_factory=dict)
    held: dict[Kind, Held] = field(default_factory=dict)
    sent_at: deque[datetime] = field(default_factory=deque)  # the last hour's messages
    sent: int = 0
    held_back: int = 0

    def offer(self, notice: Notice, now: datetime) -> Message | None:
        """The message to send now for `notice`, or None: switched off, or held back."""
        if notice.kind not in self.rules.enabled:
            return None
        if self._blocked(notice.kind, now) or notice.kind in self.held:
            held = self.held.get(notice.kind)
            if held is None:
                self.held[notice.kind] = Held(1, now, notice)
            else:
                held.count += 1
                held.last = notice
            self.held_back += 1
            return None
        self._count(now, (notice.kind,))
        label = LABELS[notice.kind]
        return Message(f"{self.rules.home}: {label}", notice.line(self.rules.home), (notice.kind,))

    def due(self, now: datetime) -> Message | None:
        """The digest, once the hold-back of a kind has ended by `now`, or None. It takes
        every kind held so far, so a flapping device's offline and back come as one."""
        if all(self._blocked(k, now) for k in self.held):
            return None
        ready = list(self.held)
        held = [(k, self.held.pop(k)) for k in ready]
        self._count(now, tuple(ready))
        home = self.rules.home
        counts = ", ".join(f"{LABELS[k]} x{h.count}" for k, h in held)
        since = min(h.since for _, h in held)
        lines = [f"{home}: held back since {since:%H:%M} UTC: {counts}."]
        lines += [f"last {LABELS[k]}: {h.last.line(home)}" for k, h in held]
        return Message(f"{home}: digest", "\n".join(lines), tuple(ready), digest=True)

    def next_due(self, now: datetime) -> datetime | None:
        """When `due` will next have a digest, or None while nothing is held."""
        if not self.held:
            return None
        return min(self._free_at(k, now) for k in self.held)

    def _blocked(self, kind: Kind, now: datetime) -> bool:
        return self._free_at(kind, now) > now

    def _free_at(self, kind: Kind, now: datetime) -> datetime:
        """The earliest time a message of `kind` may go: its interval, the hourly cap and the
        quiet hours all allow it."""
        at = now
        if (last := self.last_sent.get(kind)) is not None:
            at = max(at, last + self.rules.intervals[kind])
        self._forget(now)
        if len(self.sent_at) >= self.rules.per_hour:
            at = max(at, self.sent_at[len(self.sent_at) - self.rules.per_hour] + HOUR)
        if self.rules.quiet is not None and (end := self.rules.quiet.until(at)) is not None:
            at = end
        return at

    def _forget(self, now: datetime) -> None:
        while self.sent_at and self.sent_at[0] + HOUR <= now:
            self.sent_at.popleft()

    def _count(self, now: datetime, kinds: tuple[Kind, ...]) -> None:
        for k in kinds:
            self.last_sent[k] = now
        self.sent_at.append(now)
        self.sent += 1
