"""The Smappee bridge's calls to the cloud in an hour, and the EV guard's delays on its
5-minute data against a 1 s meter's.

Calls: the bridge's device (the real `SmappeeMeter` and client) polls the fake cloud over
loopback every 30 s for a simulated day, on a clock the bench moves, for several delays of the
cloud in showing a block and several phases of the poll against the blocks; every request
(tokens included) is counted. Delays: the EV guard's own `step` (the controller's pure policy)
on the blocks the bridge published and on 1 s readings of the same household (a car from 18:10
for 30 minutes), each with the defaults (confirm 3 s, release 120 s, stale_after 30 s).
Printed, not asserted.

    uv run python bench/smappee.py
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from wattbus.models import MeterState
from wattbus_controller.ev_guard import GuardInputs, GuardMemory, GuardSettings, step
from wattbus_simulator.fake_smappee import FakeSmappee
from wattbus_smappee.client import Login, SmappeeClient
from wattbus_smappee.service import SmappeeMeter

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
CAR = (T0 + timedelta(hours=18, minutes=10), T0 + timedelta(hours=18, minutes=40))
POLL = 30.0
HOURS = 24


def house(t: datetime) -> float:
    return 450.0 + (11_000.0 if CAR[0] <= t < CAR[1] else 0.0)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def run(delay: float, phase: float) -> tuple[float, list[MeterState], list[datetime]]:
    clock = Clock(T0 + timedelta(seconds=phase))
    fake = FakeSmappee(clock=clock, consumption=house, delay=timedelta(seconds=delay))
    await fake.start()
    states, times = [], []
    try:
        async with SmappeeClient(fake.api, Login("wattbus", "secret", "owner", "pass"),
                                 clock=clock) as client:  # fmt: skip
            meter = SmappeeMeter("smappee", client, None, None)
            while clock.now < T0 + timedelta(hours=HOURS):
                states.append(await meter.read(clock.now))
                times.append(clock.now)
                clock.now += timedelta(seconds=POLL)
    finally:
        await fake.close()
    return len(fake.calls) / HOURS, states, times


def guard(readings: list[tuple[datetime, MeterState]]) -> tuple[float, float]:
    """s from the car's start to the hold, and from its end to the release."""
    s, memory = GuardSettings(), GuardMemory()
    on = off = None
    for now, meter in readings:
        memory, decision = step(s, GuardInputs(meter, {}), memory, now)
        if decision.hold and on is None:
            on = now
        if on is not None and not decision.hold and off is None and now > CAR[1]:
            off = now
    assert on is not None and off is not None
    return (on - CAR[0]).total_seconds(), (off - CAR[1]).total_seconds()


async def main() -> None:
    print(f"Smappee bridge, poll every {POLL:.0f} s, {HOURS} h simulated")
    for delay in (0.0, 60.0, 150.0):
        for phase in (0.0, 10.0, 20.0):
            per_hour, states, times = await run(delay, phase)
            on, off = guard(list(zip(times, states, strict=True)))
            print(f"  cloud delay {delay:3.0f} s, poll phase {phase:2.0f} s: "
                  f"{per_hour:5.1f} calls/h; guard detects after {on:3.0f} s, "
                  f"releases after {off:3.0f} s")  # fmt: skip
    start = CAR[0] - timedelta(minutes=5)
    times = [start + timedelta(seconds=i) for i in range(3600)]
    shelly = [(t, MeterState(ts=t, power=house(t))) for t in times]
    on, off = guard(shelly)
    print(f"  1 s meter (a Shelly): detects after {on:.0f} s, releases after {off:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
