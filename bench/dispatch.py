"""Dispatch: how much the Powerwall gives the car during smart windows, wattbus against the old
tool, and how soon a window's planned start holds it through the real parts.

(1) **The replay** (`dispatch_replay.py`, pure, a few seconds a run): the day of
`dispatch_day.py` second by second against a small Powerwall model, with wattbus's core (dispatch
alone, and dispatch with the EV guard) and with the old tool's rules (`dispatch_oldtool.py`).
Per cheap stretch and in total: the Wh the battery gave the car, the Powerwall writes, the
ratio to the old tool (goal: under a tenth); min / median / max over `--seeds` seeds (each
moves the old tool's loop phase, the bridges' poll phases and the car's starts).

(2) **Planned start -> held** (`dispatch_live.py`): Mosquitto, the kraken, myenergi and
powerwall bridges and the controller, with the fakes on loopback, on one clock that starts
shortly before a slot boundary; see that file.

(3) `--table`: the day's Markdown table for `docs/dispatch-day.md` (seed 1), on stdout.

    uv run python bench/dispatch.py [--seeds 5] [--delay 10] [--lead 60] [--rounds 3] [--no-live]
    uv run python bench/dispatch.py --table > docs/dispatch-day.md
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import math
import statistics
from collections.abc import Callable

from dispatch_day import plan
from dispatch_live import live
from dispatch_replay import Result, old_tool, wattbus
from dispatch_table import table
from wattbus_controller import dispatch

GOAL = 0.1  # wattbus's Wh into the car / the old tool's


def into_car(r: Result, name: str) -> float:
    return r.into_car[name]


def spread(values: list[float], digits: int = 0) -> str:
    lo, mid, hi = min(values), statistics.median(values), max(values)
    return f"{lo:.{digits}f} / {mid:.{digits}f} / {hi:.{digits}f}"


def replay(seeds: int, delay: float, lead: float) -> None:
    runs: dict[str, list[Result]] = {}
    for seed in range(1, seeds + 1):
        day = plan(seed)
        for r in (wattbus(day, seed, delay, False, lead), wattbus(day, seed, delay, True, lead),
                  old_tool(day, seed, delay)):  # fmt: skip
            runs.setdefault(r.name, []).append(r)
    names = list(runs)
    ours, old = names[:2], runs["old tool"]
    print(f"\n(1) the replay: {seeds} seeds, writes take effect {delay:g} s after they are sent, "
          f"dispatch holds end {lead:g} s before a boundary")  # fmt: skip
    print("Wh the Powerwall gave the car in each cheap stretch, min / median / max, and the")
    print("median of wattbus / old tool (alone: dispatch alone; guard: with the EV guard):")
    print(f"{'':<10}" + "".join(f"{n:>32}" for n in names) + f"{'alone':>8}{'guard':>8}")

    def row(label: str, pick: Callable[[Result], float], ratio: bool = True) -> None:
        cells = "".join(f"{spread([pick(r) for r in runs[n]]):>32}" for n in names)
        if ratio:
            for n in ours:
                pairs = zip(runs[n], old, strict=True)
                each = [pick(w) / pick(o) if pick(o) else math.nan for w, o in pairs]
                cells += f"{statistics.median(each):>8.3f}"
        print(f"{label:<10}{cells}")

    for name in old[0].into_car:
        row(name, functools.partial(into_car, name=name))
    row("total", lambda r: r.total)
    row("writes", lambda r: r.writes, ratio=False)
    row("held, min", lambda r: r.held_outside, ratio=False)
    print("(held, min: minutes in backup outside the cheap stretches)")
    for n in ours:
        ratios = [w.total / o.total for w, o in zip(runs[n], old, strict=True)]
        met = sum(1 for r in ratios if r < GOAL)
        verdict = "met" if met == len(ratios) else f"missed, met in {met} of {len(ratios)} seeds"
        print(f"{n} / old tool, total Wh: {spread(ratios, 3)} (goal under {GOAL:g}: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--delay", type=float, default=10.0, help="s until a write applies")
    parser.add_argument(
        "--lead",
        type=float,
        default=dispatch.RELEASE_LEAD,
        help="s before a boundary a dispatch hold ends (the replay's wattbus)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds through the real parts")
    parser.add_argument("--no-live", action="store_true", help="the replay only")
    parser.add_argument("--table", action="store_true", help="print docs/dispatch-day.md")
    args = parser.parse_args()
    if args.table:
        print(table(args.delay), end="")
        return
    replay(args.seeds, args.delay, args.lead)
    if not args.no_live:
        asyncio.run(live(args.rounds))


if __name__ == "__main__":
    main()
