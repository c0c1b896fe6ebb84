"""When the bridge may call Kraken: the peers' etiquette as a pure function of the calls made.

Octopus asked the Home Assistant integration, which makes most of its API traffic, to read
dispatches every 3 minutes; peers stay at or below about 20 calls an hour and keep off the
minutes around :00 and :30, when every clock-driven client calls at once. So:
- a poll every `interval` (3 minutes by default), and never sooner than that;
- never more than `MAX_CALLS` HTTP requests in any hour: logins and token refreshes count, so
  an hour with a refresh has one poll fewer;
- no request within `QUIET` of :00 or :30. A poll's requests follow each other within `SPAN`,
  so a poll does not start in the `SPAN` before a quiet minute either;
- after a failure, the wait doubles from twice the interval up to `MAX_BACKOFF`, shortened by
  up to a fifth at random, so that many homes throttled at once do not return at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

HOUR = timedelta(hours=1)
MAX_CALLS = 20  # requests in any hour
HALF_HOUR = 1800.0  # s
QUIET = timedelta(seconds=60)  # kept clear either side of :00 and :30
SPAN = timedelta(seconds=30)  # a poll's requests (at most 3, 10 s each) all start within this
INTERVAL = timedelta(minutes=3)  # the default and the shortest poll interval
MAX_BACKOFF = timedelta(minutes=30)
JITTER = 0.2  # a back-off is cut by up to this fraction
MANUAL_GAP = timedelta(minutes=1)  # a `refresh` command: at most one poll a minute


def quiet(t: datetime) -> bool:
    """Whether a poll starting at `t` could make a request within `QUIET` of :00 or :30."""
    into = _into_half_hour(t)
    return into < QUIET.total_seconds() or into > HALF_HOUR - (QUIET + SPAN).total_seconds()


def _into_half_hour(t: datetime) -> float:
    return (t.minute % 30) * 60 + t.second + t.microsecond / 1e6


def after_quiet(t: datetime) -> datetime:
    """`t`, or the first instant after it when a poll may start."""
    if not quiet(t):
        return t
    into = _into_half_hour(t)
    slot = t.replace(minute=t.minute - t.minute % 30, second=0, microsecond=0)  # just passed
    if into >= QUIET.total_seconds():
        slot += timedelta(seconds=HALF_HOUR)  # the one coming
    return slot + QUIET


def within_budget(t: datetime, calls: Sequence[datetime], need: int) -> datetime:
    """The first instant from `t` at which `need` more requests, made from then on, keep
    every hour at `MAX_CALLS` or fewer: an hour that holds the first of them reaches back to
    just after `t - HOUR`, so a request made then must have left it."""
    counted = sorted(c for c in calls if c > t - HOUR)
    over = len(counted) + need - MAX_CALLS
    if over <= 0:
        return t
    return max(t, counted[over - 1] + HOUR)


def earliest(t: datetime, calls: Sequence[datetime], need: int) -> datetime:
    """The first instant from `t` at which a poll of `need` requests keeps every rule."""
    while True:
        moved = after_quiet(within_budget(t, calls, need))
        if moved == t:
            return t
        t = moved


def backoff(failures: int, interval: timedelta, jitter: float) -> timedelta:
    """The wait after `failures` failures in a row (1 or more); `jitter` in [0, 1)."""
    exponent = min(failures, 16)  # past the cap long before this; keeps the number small
    wait: timedelta = min(interval * 2**exponent, MAX_BACKOFF)
    return wait * (1 - JITTER * jitter)


def next_poll(
    now: datetime,
    last_poll: datetime | None,
    calls: Sequence[datetime],
    *,
    failures: int,
    need: int,
    interval: timedelta = INTERVAL,
    jitter: float = 0.0,
) -> datetime:
    """When to poll next. `last_poll`: when the last one started (None: never); `failures`:
    how many have failed in a row; `need`: the requests the next one makes (2 when the token
    must be renewed first)."""
    if last_poll is None:
        base = now
    elif failures == 0:
        base = last_poll + interval
    else:
        base = last_poll + backoff(failures, interval, jitter)
    return earliest(max(base, now), calls, need)


def refresh_at(now: datetime, last_poll: datetime | None, calls: Sequence[datetime],
               need: int) -> datetime:  # fmt: skip
    """When a poll asked for by hand (`refresh`) may run: now, or the instant the rules allow."""
    base = now if last_poll is None else max(now, last_poll + MANUAL_GAP)
    return earliest(base, calls, need)
