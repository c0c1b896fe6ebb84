"""Whether the charger took a command, from what it published after the command was sent.

The firmware answers no `Set/` message, and ignores what it does not accept; but after any
message it publishes all its topics at once. So a write counts as taken when a message on
the topic that shows it, newer than the command, carries the value written. A command is
answered when every write is taken, or when `READ_BACK` has passed: then the charger did not
take what is still missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from wattbus.models import EventKind

from wattbus_smartevse.charger import Value
from wattbus_smartevse.commands import Write

READ_BACK = timedelta(seconds=5)  # the firmware publishes within a second of any Set/


@dataclass(frozen=True)
class Pending:
    """A command sent, waiting for the charger to show it."""

    writes: tuple[Write, ...]
    seen: Mapping[str, int]  # messages per charger topic when it was sent
    deadline: datetime
    topic: str  # the `set` topic it came on
    id: str | int | None
    command: dict[str, object]
    taken: frozenset[str] = frozenset()  # the writes' fields shown so far


@dataclass(frozen=True)
class Answer:
    kind: EventKind
    reason: str


def answer(
    pending: Pending, values: Mapping[str, Value], seen: Mapping[str, int], now: datetime
) -> tuple[Pending, Answer | None]:
    """The command with what it has shown so far, and its answer if one is due now."""
    shown_now = {
        w.field
        for w in pending.writes
        if seen.get(w.shows, 0) > pending.seen.get(w.shows, 0) and values.get(w.shows) == w.expect
    }
    pending = replace(pending, taken=pending.taken | shown_now)
    missing = [w for w in pending.writes if w.field not in pending.taken]
    if not missing:
        shown = ", ".join(f"{w.field} {pending.command[w.field]}" for w in pending.writes)
        return pending, Answer(EventKind.APPLIED, f"the charger shows {shown}")
    if now < pending.deadline:
        return pending, None
    words = "; ".join(f"{w.field} ({w.shows} {_shown(values, w.shows)})" for w in missing)
    if not pending.taken:
        return pending, Answer(EventKind.REJECTED, f"the charger did not take it: {words}")
    took = ", ".join(sorted(pending.taken))
    return pending, Answer(EventKind.ERROR, f"the charger took {took}, but not {words}")


def _shown(values: Mapping[str, Value], topic: str) -> str:
    if topic not in values:
        return "not published"
    value = values[topic]
    return f"is {'None' if value is None else value}"
