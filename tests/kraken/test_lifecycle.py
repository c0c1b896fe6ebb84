"""Each window's life cycle as a pure function: planned, rescheduled, withdrawn, completed."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from wattbus.models import DispatchKind
from wattbus_kraken.lifecycle import (
    COMPLETED,
    MOVED,
    PLANNED,
    WITHDRAWN,
    Status,
    Stored,
    ended,
    reconcile,
)
from wattbus_kraken.windows import Dispatch, Window, normalise

SMART, BOOST = DispatchKind.SMART, DispatchKind.BOOST


def t(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 6, 10, hh, mm, tzinfo=UTC)


def w(start: datetime, end: datetime, kind: DispatchKind = SMART) -> list[Window]:
    return normalise([Dispatch(start, end, kind)])


class Life:
    """Polls in a row, as the bridge stores their results."""

    def __init__(self) -> None:
        self.rows: dict[str, Stored] = {}
        self.ids = (f"w{i}" for i in itertools.count(1))

    def poll(self, now: datetime, planned: list[Window] | None,
             completed: list[Window] | None = None) -> list[tuple[str, str]]:  # fmt: skip
        rows, changes = reconcile(list(self.rows.values()), planned, completed, now,
                                  lambda: next(self.ids))  # fmt: skip
        self.rows |= {r.id: r for r in rows}
        return [(c.code, c.window.id) for c in changes]

    def status(self, id: str) -> Status:
        return self.rows[id].status


def test_a_new_window_is_planned_and_keeps_its_id_when_it_moves() -> None:
    life = Life()
    assert life.poll(t(9), w(t(12, 10), t(13))) == [(PLANNED, "w1")]
    assert life.poll(t(9, 3), w(t(12, 10), t(13))) == []  # the same again: nothing new
    assert life.poll(t(9, 6), w(t(12, 40), t(14))) == [(MOVED, "w1")]
    moved = life.rows["w1"]
    assert (moved.start, moved.end, moved.sequence) == (t(12, 30), t(14), 1)
    assert (moved.original_start, moved.original_end) == (t(12), t(13))
    assert moved.status is Status.RESCHEDULED
    life.poll(t(9, 9), w(t(12, 40), t(15)))
    assert life.rows["w1"].sequence == 2


def test_a_window_gone_before_it_ends_is_withdrawn() -> None:
    life = Life()
    life.poll(t(9), w(t(12), t(13)) + w(t(15), t(16)))
    assert life.poll(t(9, 3), w(t(15), t(16))) == [(WITHDRAWN, "w1")]
    # cut while it runs
    assert life.poll(t(15, 10), []) == [(WITHDRAWN, "w2")]


def test_a_window_gone_after_its_dispatch_ended_ran_to_plan() -> None:
    life = Life()
    life.poll(t(12, 5), w(t(12, 10), t(12, 40)))  # billed 12:00-13:00
    # Kraken drops it at 12:40; its last slot still runs
    assert life.poll(t(12, 43), []) == [(COMPLETED, "w1")]


def test_an_open_window_completes_when_its_last_slot_ends() -> None:
    life = Life()
    life.poll(t(12, 5), w(t(12, 10), t(12, 40)))
    rows, changes = ended(list(life.rows.values()), t(13))
    assert [(c.code, c.window.id) for c in changes] == [(COMPLETED, "w1")]
    assert ended(rows, t(13)) == ([], [])  # said once


def test_an_unreadable_plan_withdraws_nothing() -> None:
    life = Life()
    life.poll(t(9), w(t(12), t(13)))
    assert life.poll(t(9, 3), None) == []
    assert life.status("w1") is Status.PLANNED


def test_completed_dispatches_correct_a_withdrawal_and_keep_history_quietly() -> None:
    life = Life()
    life.poll(t(11, 50), w(t(12), t(12, 20)))
    life.poll(t(12, 5), [])  # vanished while it ran: withdrawn
    assert life.status("w1") is Status.WITHDRAWN
    changes = life.poll(t(12, 45), [], w(t(12), t(12, 20)) + w(t(3), t(4)))
    assert changes == [(COMPLETED, "w1")]
    assert life.status("w1") is Status.COMPLETED
    history = [r for r in life.rows.values() if r.start == t(3)]
    assert [r.status for r in history] == [Status.COMPLETED]
    assert life.poll(t(12, 48), [], w(t(3), t(4))) == []  # and not added twice


def test_a_boost_beside_a_smart_window_is_a_window_of_its_own() -> None:
    life = Life()
    got = life.poll(t(9), w(t(12), t(13)) + w(t(12, 30), t(13, 30), BOOST))
    assert got == [(PLANNED, "w1"), (PLANNED, "w2")]
    assert life.rows["w2"].kind is BOOST
    assert life.poll(t(9, 3), w(t(12), t(13)) + w(t(12, 30), t(13, 30), BOOST)) == []


def test_a_window_that_appears_after_it_started_is_planned() -> None:
    life = Life()
    assert life.poll(t(12, 20), w(t(12, 10), t(13))) == [(PLANNED, "w1")]
    assert life.rows["w1"].first_seen == t(12, 20)
    assert life.poll(t(12, 23), w(t(11), t(11, 30))) == [(WITHDRAWN, "w1")]  # ended: ignored
    assert len(life.rows) == 1


def test_ids_and_sequences_are_what_a_calendar_needs() -> None:
    life = Life()
    life.poll(t(9), w(t(12), t(13)))
    first = life.rows["w1"]
    life.poll(t(9, 3), w(t(12), t(13, 30)))
    assert life.rows["w1"].id == first.id
    assert life.rows["w1"].sequence == first.sequence + 1
    assert life.rows["w1"].first_seen == first.first_seen
    assert life.rows["w1"].updated == t(9, 3) > first.updated
    assert timedelta(0) < life.rows["w1"].end - first.end
