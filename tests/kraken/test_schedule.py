"""The poll schedule as a pure function, over a simulated day: the hourly budget, the quiet
minutes around :00 and :30, and the back-off."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from wattbus_kraken import schedule
from wattbus_kraken.schedule import (
    HOUR,
    MAX_BACKOFF,
    MAX_CALLS,
    QUIET,
    backoff,
    earliest,
    next_poll,
    quiet,
    refresh_at,
)

DAY = datetime(2026, 3, 29, 0, 0, 5, tzinfo=UTC)  # the day the clocks go forward in the UK


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return DAY.replace(hour=hh, minute=mm, second=ss)


def near_slot(t: datetime) -> bool:
    """Within a minute of :00 or :30."""
    into = (t.minute % 30) * 60 + t.second + t.microsecond / 1e6
    return into < QUIET.total_seconds() or into > 1800 - QUIET.total_seconds()


def max_per_hour(calls: list[datetime]) -> int:
    """The most requests in any hour, over every window starting at a request."""
    return max(sum(1 for c in calls if s <= c < s + HOUR) for s in calls)


def test_the_hour_is_counted_from_any_moment() -> None:
    """The first of a poll's requests shares an hour with every request of the hour before
    it: ten polls of two requests fill it exactly."""
    calls: list[datetime] = []
    now, last = at(9, 2), None
    for _ in range(40):
        t = next_poll(now, last, calls, failures=0, need=2)
        calls += [t, t + timedelta(seconds=0.5)]
        now = last = t
    assert max_per_hour(calls) == MAX_CALLS


def simulate(
    hours: float, *, fail: frozenset[int] = frozenset(), refresh_every: int = 18, seed: int = 1
) -> tuple[list[datetime], list[timedelta]]:
    """Polls as the bridge makes them: each poll one request, plus a token request every
    `refresh_every` polls; the polls numbered in `fail` fail. Returns the requests made and
    the waits after failures."""
    rng = random.Random(seed)
    now, last, failures = DAY, None, 0
    calls: list[datetime] = []
    waits: list[timedelta] = []
    n = 0
    while now < DAY + timedelta(hours=hours):
        need = 2 if n % refresh_every == 0 else 1
        t = next_poll(now, last, calls, failures=failures, need=need, jitter=rng.random())
        if failures and last is not None:
            waits.append(t - last)
        calls.extend([t] * need)
        last, now = t, t
        failures = failures + 1 if n in fail else 0
        n += 1
    return calls, waits


def test_a_day_of_polls_keeps_every_rule() -> None:
    calls, _ = simulate(24)
    assert max_per_hour(calls) <= MAX_CALLS
    assert not [c for c in calls if near_slot(c)]
    polls = sorted(set(calls))
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert min(gaps) >= schedule.INTERVAL
    # and it is not shy: the budget is nearly used, hour after hour
    assert len(calls) >= 24 * (MAX_CALLS - 2)


def test_the_quiet_minutes_are_kept_with_room_for_a_polls_requests() -> None:
    assert quiet(at(10, 0, 30)) and quiet(at(10, 30, 59)) and quiet(at(10, 29, 0))
    assert not quiet(at(10, 1, 0)) and not quiet(at(10, 28, 29))
    assert earliest(at(10, 28, 45), [], 1) == at(10, 31, 0)
    assert earliest(at(10, 0, 10), [], 1) == at(10, 1, 0)
    assert earliest(at(10, 12, 0), [], 1) == at(10, 12, 0)


def test_a_full_hour_waits_for_its_oldest_request_to_leave_it() -> None:
    calls = [at(10, 2) + i * timedelta(minutes=2) for i in range(MAX_CALLS)]  # 10:02 .. 10:40
    t = earliest(at(10, 41), calls, 1)
    assert t == at(11, 2)  # once 10:02 has left the hour
    assert sum(1 for c in calls if c > t - HOUR) + 1 <= MAX_CALLS
    assert earliest(at(10, 41), calls, 2) == at(11, 4)


def test_backoff_doubles_to_thirty_minutes_and_is_jittered_below_the_cap() -> None:
    interval = schedule.INTERVAL
    assert backoff(1, interval, 0.0) == 2 * interval
    assert backoff(2, interval, 0.0) == 4 * interval
    assert backoff(10, interval, 0.0) == MAX_BACKOFF
    assert backoff(1000, interval, 0.0) == MAX_BACKOFF
    assert MAX_BACKOFF * 0.8 <= backoff(10, interval, 0.999) < MAX_BACKOFF


def test_a_day_of_failures_backs_off_to_the_cap_and_never_past_it() -> None:
    calls, waits = simulate(24, fail=frozenset(range(5, 60)))
    assert max(waits) <= MAX_BACKOFF + QUIET + schedule.SPAN  # a slot's quiet may add to it
    assert max(waits) >= MAX_BACKOFF * 0.8
    assert waits[0] == pytest.approx(2 * schedule.INTERVAL, abs=timedelta(minutes=2))
    assert max_per_hour(calls) <= MAX_CALLS
    assert not [c for c in calls if near_slot(c)]


def test_a_refresh_by_hand_runs_now_or_says_when() -> None:
    assert refresh_at(at(10, 12), None, [], 1) == at(10, 12)
    assert refresh_at(at(10, 12), at(10, 11, 30), [], 1) == at(10, 12, 30)  # one a minute
    assert refresh_at(at(10, 29, 10), None, [], 1) == at(10, 31)
    full = [at(9, 50)] * MAX_CALLS
    assert refresh_at(at(10, 12), None, full, 1) == at(10, 50)
