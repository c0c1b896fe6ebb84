"""Kraken: how gently the bridge treats the supplier's API over a simulated day.

The bridge's real client, schedule and store (`KrakenBridge.step`, the loop's own pass) run
against the fake Kraken (`wattbus_simulator.fake_kraken`) over HTTP on loopback, on one
simulated clock that jumps from one thing due to the next, so a day takes seconds. Its MQTT
messages are recorded, not sent: no broker is involved. Through the day the fake's plan
changes (a night window planned and moved, a boost, a window withdrawn, a window across
midnight), one hour is throttled (KT-CT-1199, then HTTP 429, then an HTML 403), the login is
refused for an hour, and flexPlannedDispatches fails for an hour (KT-CT-4340).

Printed: requests per clock hour and the most in any 60 minutes (the target is 20 or fewer),
requests within a minute of :00 or :30 (target none), the total by kind, the waits after
failures (the back-off), and the notices and windows the day left.

    uv run python bench/kraken.py [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from wattbus.bus import Bus, encode
from wattbus.settings import BusSettings
from wattbus_kraken.schedule import HOUR, MAX_CALLS, QUIET
from wattbus_kraken.service import KrakenBridge
from wattbus_kraken.settings import KrakenSettings
from wattbus_simulator.fake_kraken import FakeDispatch, FakeKraken, start_fake_kraken

DAY = datetime(2026, 6, 10, 0, 0, 20, tzinfo=UTC)
ACCOUNT = "A-0000BE4C"
KEY = "sk_live_bench"
HEARTBEAT = 300.0  # s: the state is re-sent this often; only its count changes with it


class SimClock:
    """The bridge's and the fake's time; the bench moves it, and nothing waits on it."""

    def __init__(self) -> None:
        self.current = DAY

    def now(self) -> datetime:
        return self.current

    async def wait(self, wake: asyncio.Event, until: datetime | None) -> None:
        raise AssertionError("the bench drives `step` itself")


class RecordingBus(Bus):
    """Keeps what the bridge publishes instead of sending it."""

    def __init__(self, settings: BusSettings, device_id: str) -> None:
        super().__init__(settings, device_id)
        self.sent: list[tuple[datetime, str, bytes]] = []
        self.clock: Callable[[], datetime] = lambda: DAY

    async def publish(self, topic: str, payload: Any, *, retain: bool = False,
                      qos: int = 0) -> bool:  # fmt: skip
        self.sent.append((self.clock(), topic, encode(payload)))
        return True


def at(hh: int, mm: int = 0, day: int = 0) -> datetime:
    return DAY.replace(hour=hh, minute=mm, second=0) + timedelta(days=day)


def script(fake: FakeKraken) -> list[tuple[datetime, str, Callable[[], None]]]:
    """What happens to the account during the day, in order."""
    acct = fake.accounts[ACCOUNT]
    key_owner = fake.api_keys[KEY]

    def plan(*dispatches: FakeDispatch) -> Callable[[], None]:
        return lambda: setattr(acct, "planned", [*acct.planned, *dispatches])

    def withdraw(start: datetime) -> Callable[[], None]:
        return lambda: setattr(acct, "planned", [d for d in acct.planned if d.start != start])

    def move(start: datetime, end: datetime) -> Callable[[], None]:
        def moved() -> None:
            for d in acct.planned:
                if d.start == start:
                    d.end = end

        return moved

    def throttle(kind: Any) -> Callable[[], None]:
        return lambda: setattr(fake.faults, "throttle", kind)

    def refuse_login() -> None:
        del fake.api_keys[KEY]
        fake.revoke_tokens()
        fake.faults.refuse_refresh = True

    def accept_login() -> None:
        fake.api_keys[KEY] = key_owner
        fake.faults.refuse_refresh = False

    return [
        (at(0, 10), "night window planned 01:10-04:50", plan(FakeDispatch(at(1, 10), at(4, 50)))),
        (at(2, 0), "night window moved to end 05:20", move(at(1, 10), at(5, 20))),
        (at(6, 0), "boost 07:15-07:45", plan(FakeDispatch(at(7, 15), at(7, 45), "BOOST"))),
        (at(12, 0), "window 13:05-13:40 planned", plan(FakeDispatch(at(13, 5), at(13, 40)))),
        (at(12, 50), "window 13:05 withdrawn", withdraw(at(13, 5))),
        (at(14, 0), "throttled: KT-CT-1199", throttle("KT-CT-1199")),
        (at(14, 20), "throttled: HTTP 429", throttle("429")),
        (at(14, 40), "throttled: HTML 403", throttle("403")),
        (at(15, 0), "throttling over", throttle(None)),
        (at(17, 0), "login refused (key revoked)", refuse_login),
        (at(18, 0), "login accepted again", accept_login),
        (
            at(20, 0),
            "flex fails: KT-CT-4340",
            lambda: setattr(fake.faults, "flex_error", "KT-CT-4340"),
        ),
        (at(21, 0), "flex back", lambda: setattr(fake.faults, "flex_error", None)),
        (
            at(22, 0),
            "window 23:30-05:30 planned",
            plan(FakeDispatch(at(23, 30), at(5, 30, day=1))),
        ),
    ]


def near_slot(t: datetime) -> bool:
    into = (t.minute % 30) * 60 + t.second + t.microsecond / 1e6
    return into < QUIET.total_seconds() or into > 1800 - QUIET.total_seconds()


async def run(seed: int) -> None:
    clock = SimClock()
    fake = await start_fake_kraken(clock=clock.now)
    fake.add_account(ACCOUNT, api_key=KEY)
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        bus = RecordingBus(BusSettings.only(heartbeat=HEARTBEAT), "kraken")
        bus.clock = clock.now
        settings = KrakenSettings.only(supplier="octopus", account=ACCOUNT, api_key=KEY,
                                       url=fake.endpoint, state_dir=Path(tmp))  # fmt: skip
        bridge = KrakenBridge(bus, settings, clock, jitter=rng.random)
        events = script(fake)
        polls: list[datetime] = []
        try:
            due = clock.now()
            end = DAY + timedelta(days=1)
            while due < end:
                while events and events[0][0] <= due:
                    when, what, act = events.pop(0)
                    print(f"  {when:%H:%M}  {what}")
                    act()
                clock.current = due
                before = fake.count()
                due = await bridge.step(due)
                if fake.count() > before:
                    polls.append(clock.current)
                if events:
                    due = min(due, events[0][0])
            report(fake, bus, bridge, polls)
        finally:
            await bridge.close()
            await fake.close()


def report(fake: FakeKraken, bus: RecordingBus, bridge: KrakenBridge,
           polls: list[datetime]) -> None:  # fmt: skip
    calls = [c.at for c in fake.calls]
    per_hour = Counter(c.hour for c in calls)
    sliding = max(sum(1 for c in calls if s <= c < s + HOUR) for s in calls)
    print("\nrequests per clock hour (target <= 20 in any 60 minutes):")
    print("  " + " ".join(f"{h:02d}:{per_hour.get(h, 0):>2}" for h in range(12)))
    print("  " + " ".join(f"{h:02d}:{per_hour.get(h, 0):>2}" for h in range(12, 24)))
    verdict = "met" if sliding <= MAX_CALLS else "MISSED"
    print(f"most in any 60 minutes: {sliding} (target {MAX_CALLS}: {verdict})")
    near = [c for c in calls if near_slot(c)]
    print(f"within a minute of :00 or :30: {len(near)} (target 0)"
          + (f": {', '.join(f'{c:%H:%M:%S}' for c in near)}" if near else ""))  # fmt: skip
    kinds = Counter(c.operation for c in fake.calls)
    print(
        f"total requests: {len(calls)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})"
    )
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    normal = [g for g in gaps if g < timedelta(minutes=4)]
    print(f"polls: {len(polls)}; usual gap {min(gaps)}..{max(normal)}; longest wait {max(gaps)}"
          " (back-off capped at 0:30:00, plus the quiet minutes)")  # fmt: skip
    codes: Counter[str] = Counter()
    for _t, topic, payload in bus.sent:
        if topic.endswith("/event"):
            e = json.loads(payload)
            codes[f"{e['kind']} {e.get('code')}"] += 1
    print("events: " + ", ".join(f"{k} {n}" for k, n in sorted(codes.items())))
    states = sum(1 for _t, topic, _p in bus.sent if topic.endswith("/state"))
    print(f"states published: {states}")
    rows = bridge.store.windows()
    print("windows kept:")
    for r in rows:
        print(f"  {r.start:%d %H:%M}-{r.end:%d %H:%M} {r.kind:<5} {r.status:<11} "
              f"sequence {r.sequence}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print("the day's script:")
    asyncio.run(run(args.seed))


if __name__ == "__main__":
    main()
