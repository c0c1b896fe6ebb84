"""Detection time: from the moment an EV starts charging to the decision to hold the battery.

The same scripted start, many times over: a house at ~500 W base load, then an EV at 11 kW.
The battery covers the house's load up to 2400 W until it is held, so every second between the
EV's start and the hold, up to (2400 - base) W of the battery's energy goes into the car.

- wattbus: the Shelly bridge publishes a meter reading every 1 s, the Zendure bridge a battery
  state every 2 s, the controller evaluates on every reading and on its own 1 s tick. Each
  evaluation is the real `ev_guard.step` with the default settings (5000 W, confirm 3 s).
- the old tool (closed source), modelled from its observed behaviour: it reads the grid meter
  every 5 s and declares charging at the second reading in a row above 5000 W.

The EV's start falls at a random point of every polling phase (seeded), so the figures are the
spread over where in its cycle each tool happens to be. Pure computation: no broker, no process.
The transport (meter -> controller -> battery, ~10 ms: bench/latency.py) is left out for both.

    uv run python bench/detection.py [--sessions 1000] [--seed 1]
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table
from wattbus.models import BatteryState, MeterState
from wattbus_controller.ev_guard import GuardInputs, GuardMemory, GuardSettings, step

BASE_LOAD = 500.0  # W
BASE_NOISE = 40.0  # W, standard deviation of the base load from one reading to the next
EV_POWER = 11_000.0  # W
BATTERY_MAX = 2400.0  # W the battery delivers to the house at most
THRESHOLD = 5000.0  # W, the old tool's threshold (wattbus uses GuardSettings' default, the same)
OLD_POLL = 5.0  # s between the old tool's readings
OLD_NEEDED = 2  # readings in a row above the threshold
METER_EVERY = 1.0  # s, the Shelly bridge's poll interval
BATTERY_EVERY = 2.0  # s, the Zendure bridge's poll interval
TICK = 1.0  # s, the controller's evaluation without new data
BEFORE = 10.0  # s of base load simulated before the EV starts
AFTER = 20.0  # s simulated after it: far longer than either tool needs
US = 1_000_000  # times are whole microseconds, so "3 s later" is exact

console = Console(width=None if sys.stdout.isatty() else 120)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class House:
    """What the meter and the battery see at a moment; the base load varies per reading."""

    ev_start: int  # us
    rng: random.Random

    def load(self, t: int) -> float:
        base = max(0.0, self.rng.gauss(BASE_LOAD, BASE_NOISE))
        return base + (EV_POWER if t >= self.ev_start else 0.0)

    @staticmethod
    def battery(load: float) -> float:
        """W the battery delivers while not held: the house's load, up to its maximum."""
        return min(load, BATTERY_MAX)


def at(t: int) -> datetime:
    return EPOCH + timedelta(microseconds=t)


def wattbus_decides(house: House, meter_phase: int, battery_phase: int, tick_phase: int) -> int:
    """When (us) the real EV guard first decides to hold, fed as the controller feeds it."""
    start, end = house.ev_start - int(BEFORE * US), house.ev_start + int(AFTER * US)
    events: list[tuple[int, int, str]] = []  # (time, order, kind): a heap of what happens when
    for kind, phase, every in (
        ("meter", meter_phase, METER_EVERY),
        ("battery", battery_phase, BATTERY_EVERY),
        ("tick", tick_phase, TICK),
    ):
        period = int(every * US)
        t = start + phase % period
        while t < end:
            heapq.heappush(events, (t, len(events), kind))
            t += period
    settings = GuardSettings()  # the defaults: 5000 W, confirm 3 s
    memory = GuardMemory()
    meter: MeterState | None = None
    battery: BatteryState | None = None
    while events:
        t, _, kind = heapq.heappop(events)
        load = house.load(t)
        out = house.battery(load)
        if kind == "meter":  # the grid sees what the battery does not cover
            meter = MeterState(ts=at(t), power=load - out)
        elif kind == "battery":
            battery = BatteryState(ts=at(t), soc=60.0, power=-out, output_home_power=out)
            continue  # the controller stores a battery state; it evaluates on meter and tick
        memory, decision = step(settings, GuardInputs(meter, {"zendure": battery}), memory, at(t))
        if decision.hold:
            return t
    raise RuntimeError("wattbus never held the battery")


def old_tool_decides(readings: Iterable[tuple[int, float]]) -> int:
    """The old tool: a reading every 5 s, charging at the 2nd reading in a row above 5000 W."""
    in_a_row = 0
    for t, grid in readings:
        in_a_row = in_a_row + 1 if grid > THRESHOLD else 0
        if in_a_row >= OLD_NEEDED:
            return t
    raise RuntimeError("the old tool never declared charging")


def old_tool_readings(house: House, phase: int) -> Iterable[tuple[int, float]]:
    period = int(OLD_POLL * US)
    t = house.ev_start - int(BEFORE * US) + phase % period
    while t < house.ev_start + int(AFTER * US):
        load = house.load(t)
        yield t, load - house.battery(load)  # it reads the grid meter
        t += period


def into_car_wh(delay_s: float) -> float:
    """Wh the battery gives the car before the hold: the part of its output above the base
    load, which it would have covered anyway."""
    return (House.battery(BASE_LOAD + EV_POWER) - House.battery(BASE_LOAD)) * delay_s / 3600


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def main(sessions: int, seed: int) -> None:
    rng = random.Random(seed)
    delays: dict[str, list[float]] = {"wattbus": [], "old tool": []}
    for _ in range(sessions):
        # the EV starts at a random point of every cycle: random phases against a fixed start
        house = House(ev_start=int(BEFORE * US) * 2, rng=rng)
        t = wattbus_decides(
            house,
            meter_phase=rng.randrange(int(METER_EVERY * US)),
            battery_phase=rng.randrange(int(BATTERY_EVERY * US)),
            tick_phase=rng.randrange(int(TICK * US)),
        )
        delays["wattbus"].append((t - house.ev_start) / US)
        t = old_tool_decides(old_tool_readings(house, rng.randrange(int(OLD_POLL * US))))
        delays["old tool"].append((t - house.ev_start) / US)

    table = Table(
        title=f"Detection delay: EV start (11 kW on ~500 W) -> hold decision, {sessions} sessions "
        f"(seed {seed})",
        title_justify="left",
    )
    for col in ("", "mean s", "p50 s", "p95 s", "max s", "into the car, Wh/session (mean / max)"):
        table.add_column(col, justify="left" if not col else "right")
    for name, values in delays.items():
        mean = sum(values) / len(values)
        table.add_row(
            f"{name} ({'1 s data, confirm 3 s' if name == 'wattbus' else '5 s polls, 2 in a row'})",
            f"{mean:.2f}",
            f"{percentile(values, 50):.2f}",
            f"{percentile(values, 95):.2f}",
            f"{max(values):.2f}",
            f"{into_car_wh(mean):.2f} / {into_car_wh(max(values)):.2f}",
        )
    console.print(table)
    new, old = (sum(v) / len(v) for v in delays.values())
    power = House.battery(BASE_LOAD + EV_POWER) - House.battery(BASE_LOAD)
    console.print(
        f"The battery gives the car {power:.0f} W ({BATTERY_MAX:.0f} W it delivers less the "
        f"{BASE_LOAD:.0f} W base load) until the hold: wattbus saves {old - new:.1f} s and "
        f"{into_car_wh(old - new):.2f} Wh ({into_car_wh(old - new) / 1000:.4f} kWh) per session "
        "on average.",
        highlight=False,
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, default=1000, help="EV starts simulated")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random phases")
    args = parser.parse_args()
    if args.sessions < 1:
        parser.error("--sessions must be at least 1")
    main(args.sessions, args.seed)


if __name__ == "__main__":
    cli()
